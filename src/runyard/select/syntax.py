"""One-line messages for syntax errors in runyard's grammars (filters, time ranges)."""

from __future__ import annotations

import re

from ..errors import SelectError

Expected = list[tuple[set[str], str]]  # (terminal names, how to say them)


def describe_expected(table: Expected, names) -> str:
    """``'and', 'or' or the end`` for the terminals a parser would have accepted."""
    names = set(names or ())
    parts = [desc for terms, desc in table if terms & names]
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def quote(text: str) -> str:
    """The user's text on one line, quoted."""
    return "'" + " ".join(text.split()) + "'"


def syntax_error(what: str, text: str, exc, table: Expected) -> SelectError:
    """A SelectError saying where ``text`` (a ``what``) stops making sense, from a lark error."""
    import lark

    head = f"invalid {what} {quote(text)}"
    if isinstance(exc, lark.UnexpectedToken):
        names = exc.expected
        ip = getattr(exc, "interactive_parser", None)
        if ip is not None:
            try:
                names = ip.accepts()
            except Exception:  # noqa: BLE001 - fall back to lark's own set
                pass
        expected = describe_expected(table, names)
        tok = exc.token
        if tok.type == "$END":
            return SelectError(f"{head}: expected {expected} at the end" if expected else f"{head}: it ends too early")
        msg = f"{head}: unexpected '{tok}' at column {tok.column}"
        return SelectError(f"{msg}, expected {expected}" if expected else msg)
    if isinstance(exc, lark.UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        if ch in "'\"":
            return SelectError(f"{head}: unclosed quote at column {exc.column}")
        word = re.match(r"\S+", text[exc.pos_in_stream:])
        shown = word.group(0) if word and ch not in "<>!=()[]," else ch
        msg = f"{head}: unexpected '{shown}' at column {exc.column}"
        expected = describe_expected(table, getattr(exc, "allowed", None))
        return SelectError(f"{msg}, expected {expected}" if expected else msg)
    if isinstance(exc, lark.UnexpectedEOF):
        return SelectError(f"{head}: it ends too early")
    return SelectError(f"{head}: {exc}")

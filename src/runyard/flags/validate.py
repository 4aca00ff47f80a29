"""Check and coerce flag values against a script's flag definitions."""

from __future__ import annotations

from typing import Any

from ..errors import FlagError, UnknownFlagError, check_text
from . import FlagDef, canonical_names
from .values import MAX_INT_DIGITS, Function

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def coerce(fd: FlagDef, value: Any) -> Any:
    """Convert ``value`` to the flag's type or raise :class:`FlagError`."""
    if value is None or isinstance(value, Function):
        return value
    t = fd.type
    bad = FlagError(f"invalid value for flag '{fd.name}': {value!r} is not {_article(t)}")
    if t == "int":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise bad from None
        raise bad
    if t in ("number", "float"):
        if isinstance(value, bool):
            raise bad
        if isinstance(value, (int, float)):
            return float(value) if t == "float" else value
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise bad from None
        raise bad
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise bad
    if t == "string":
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, (int, float)):
            return str(value)
        return value
    return value


def _article(t: str | None) -> str:
    return {"int": "an integer", "number": "a number", "float": "a number",
            "boolean": "a boolean", "string": "a string"}.get(t or "", "valid")


def check(fd: FlagDef, value: Any) -> None:
    """Raise :class:`FlagError` if ``value`` breaks the flag's choices or limits."""
    if value is None or isinstance(value, Function):
        return
    if fd.choices is not None and value not in fd.choices:
        shown = ", ".join(str(c) for c in fd.choices)
        raise FlagError(f"invalid value for flag '{fd.name}': {value!r} is not one of: {shown}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if fd.min is not None and value < fd.min:
            raise FlagError(f"invalid value for flag '{fd.name}': {value} is less than the minimum {fd.min}")
        if fd.max is not None and value > fd.max:
            raise FlagError(f"invalid value for flag '{fd.name}': {value} is greater than the maximum {fd.max}")


def check_input(name: str, value: Any) -> None:
    """Refuse a flag name or value that no run may hold: text that is not valid UTF-8, an
    integer too long to write as text."""
    check_text(name, "a flag name")
    check_text(value, f"the value of flag '{name}'")
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, int) and v.bit_length() > MAX_INT_DIGITS * 3.32:
            raise FlagError(f"invalid value for flag '{name}': an integer of more than {MAX_INT_DIGITS} digits")


def resolve(defs: dict[str, FlagDef], given: dict[str, Any], script: str = "script",
            force: bool = False, hint: str = "", not_flags: dict[str, str] | None = None) -> dict[str, Any]:
    """All flag values for a run: defaults overlaid with ``given``, coerced and checked.

    List values (grids) are checked item by item. With ``force`` unknown flags
    are kept and invalid values pass unchanged. Another spelling of a flag's name (argparse's
    ``batch-size`` for ``batch_size``) counts as the flag; ``hint`` follows "its flags: none";
    ``not_flags`` says why a name the script has is no flag (``hidden_sizes``: a list).
    """
    given = canonical_names(defs, given)
    for name, val in given.items():
        check_input(name, val)
    unknown = [n for n in given if n not in defs]
    if unknown and not force:
        known = ", ".join(sorted(defs)) or "none" + (f" — {hint}" if hint else "")
        why = (not_flags or {}).get(unknown[0])
        reason = f": {unknown[0]} is in {script}, but {why}" if why else ""
        raise UnknownFlagError(f"unknown flag '{unknown[0]}' for {script}{reason} (its flags: {known})")
    values: dict[str, Any] = {n: fd.default for n, fd in defs.items()}
    for name, val in values.items():  # (a default read from a script that is not UTF-8)
        check_text(val, f"the default of flag '{name}'")
    for name, val in given.items():
        fd = defs.get(name)
        if fd is None:
            values[name] = val
            continue
        items = val if isinstance(val, list) else [val]
        out = []
        for item in items:
            try:
                item = coerce(fd, item)
                check(fd, item)
            except FlagError:
                if not force:
                    raise
            out.append(item)
        values[name] = out if isinstance(val, list) else out[0]
    if not force:
        for name, fd in defs.items():
            if fd.required and values.get(name) in (None, ""):
                raise FlagError(f"missing required flag '{name}' for {script}")
    return values

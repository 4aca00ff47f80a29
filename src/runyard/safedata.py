"""Reading JSON and YAML that someone else wrote: size, nesting and alias expansion capped;
and the check that keeps a regex someone else wrote from backtracking without bound.

Every JSON or YAML document that comes from outside runyard (a web view request body,
``runyard api`` values, batch files, a remote's index shards) is read through :func:`load_json`
or :func:`load_yaml`. A document that is too big, nested too deep (a deep one would overflow
the parser's stack) or whose YAML aliases expand too far (an alias bomb: a few KB naming
gigabytes) is refused at once with :class:`DataError`, one line: exit 2 on the command line,
HTTP 400 in the view.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import UsageError

#: How deeply lists and maps may nest in a document from outside.
MAX_DEPTH = 100
#: How many values a YAML document may hold once its aliases are expanded.
MAX_NODES = 1_000_000
#: The largest document read unless a caller says otherwise.
MAX_BYTES = 64 * 1024 * 1024


class DataError(UsageError):
    """A JSON or YAML document from outside that is refused (malformed, too big, too deep)."""


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply lists and dicts nest in ``value``, counted iteratively (stops past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, tuple, dict)):
            deepest = max(deepest, d)
            if deepest > limit:
                break
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def load_json(data: str | bytes, what: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Decode JSON ``data`` (``what`` names it in the refusal), refusing more than ``max_bytes``,
    nesting deeper than ``max_depth`` and anything that is not JSON."""
    if len(data) > max_bytes:
        raise DataError(f"{what} is larger than {_size(max_bytes)}")
    try:
        value = json.loads(data)
    except RecursionError:
        raise DataError(f"{what} is nested more than {max_depth} levels deep") from None
    except ValueError as e:
        raise DataError(f"{what} is not valid JSON: {str(e).splitlines()[0][:100]}") from None
    if depth(value, max_depth) > max_depth:
        raise DataError(f"{what} is nested more than {max_depth} levels deep")
    return value


def load_yaml(text: str, what: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
              max_nodes: int = MAX_NODES) -> Any:
    """Decode YAML ``text`` with the safe loader, refusing more than ``max_bytes``, nesting deeper
    than ``max_depth``, and anchors/aliases that expand to more than ``max_nodes`` values.

    The checks read the document's events first (an iterative parser: nothing is built and
    nothing recurses), so a bomb is refused before it costs anything."""
    import yaml

    if len(text) > max_bytes:
        raise DataError(f"{what} is larger than {_size(max_bytes)}")
    loader = yaml.SafeLoader  # (not libyaml's: it refuses escapes such as "\\udcff" that are then
    # reported as text that is not UTF-8, not as a YAML error)
    try:
        if "&" in text or "*" in text or sum(text.count(c) for c in "[{-:\n") >= max_depth:
            _check_events(yaml.parse(text, Loader=loader), what, max_depth, max_nodes)
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as e:
        raise DataError(f"{what} is not valid YAML: {str(e).splitlines()[0][:100]}") from None
    except RecursionError:
        raise DataError(f"{what} is nested more than {max_depth} levels deep") from None


def _check_events(events: Any, what: str, max_depth: int, max_nodes: int) -> None:
    """Walk a YAML event stream: nesting depth, and the size of every anchored node so that an
    alias counts for everything it stands for."""
    import yaml

    sizes: dict[str, int] = {}
    stack: list[list] = [[None, 0]]  # per open collection: [its anchor, values counted so far]
    for ev in events:
        if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            stack.append([ev.anchor, 1])
            if len(stack) - 1 > max_depth:
                raise DataError(f"{what} is nested more than {max_depth} levels deep")
            continue
        if isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, n = stack.pop()
            if anchor is not None:
                sizes[anchor] = n
        elif isinstance(ev, yaml.ScalarEvent):
            n = 1
            if ev.anchor is not None:
                sizes[ev.anchor] = 1
        elif isinstance(ev, yaml.AliasEvent):
            n = sizes.get(ev.anchor, 1)
        else:
            continue
        stack[-1][1] += n
        if stack[-1][1] > max_nodes:  # a collection holds at least what its parts do: checked as it grows
            raise DataError(f"{what}: its YAML aliases expand to more than {max_nodes:,} values")


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n // 1024} KiB"


def nested_repeat(pattern: str) -> bool:
    """True if a regex someone else wrote repeats a group that itself holds a repeat or an
    alternation (``(a+)+``, ``(a|aa)*``): it can backtrack without bound on a line that almost
    matches. guild.yml's ``select``/``rename`` and every ``output-scalars`` pattern are checked."""
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]
    except ImportError:  # Python < 3.11
        import sre_parse  # type: ignore[no-redef]

    def walk(items, inside_repeat: bool) -> bool:
        for op, av in items:
            name = str(op)
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                lo, hi, sub = av
                if inside_repeat and hi != lo:
                    return True
                if walk(sub, inside_repeat or hi > 1):
                    return True
            elif name == "SUBPATTERN":
                if walk(av[-1], inside_repeat):
                    return True
            elif name == "BRANCH":
                if inside_repeat and len(av[1]) > 1:
                    return True
                if any(walk(b, inside_repeat) for b in av[1]):
                    return True
            elif name in ("ASSERT", "ASSERT_NOT"):
                if walk(av[1], inside_repeat):
                    return True
        return False

    return walk(sre_parse.parse(pattern), False)

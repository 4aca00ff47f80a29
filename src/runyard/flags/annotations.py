"""``#|`` YAML annotations, shared by every script language that comments with ``#``.

A block of ``#|`` lines at the top of a script (line 1, or line 2 after a ``#!``
shebang) is the script's *front matter* (``flags-dest``, ``sourcecode``,
``output-scalars``, ``description``, ``label``, ``tags``, ``echo``...). A block
directly above an assignment annotates that flag (``description``, ``min``,
``max``, ``choices``, ``type``, ``required``).
"""

from __future__ import annotations

from ..errors import UsageError

PREFIX = "#|"


def is_anno(line: str) -> bool:
    return line.lstrip().startswith(PREFIX)


def _parse(lines: list[str], first: int, last: int, source: str) -> dict:
    import yaml

    body = []
    for line in lines[first : last + 1]:
        text = line.lstrip()[len(PREFIX) :]
        if text.startswith(" "):
            text = text[1:]
        body.append(text.rstrip("\r\n"))
    try:
        data = yaml.safe_load("\n".join(body))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UsageError(f"{source}:{first + 1}: invalid '#|' annotation: {mark}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{source}:{first + 1}: '#|' annotation must be a YAML mapping")
    return data


def front_matter_span(lines: list[str]) -> tuple[int, int] | None:
    """0-based inclusive (first, last) line numbers of the front matter, if any."""
    start = 0
    if lines and lines[0].startswith("#!"):
        start = 1
    if start >= len(lines) or not is_anno(lines[start]):
        return None
    end = start
    while end + 1 < len(lines) and is_anno(lines[end + 1]):
        end += 1
    return start, end


def front_matter(lines: list[str], source: str = "<script>") -> dict:
    """The script's front matter as a dict ({} when it has none)."""
    span = front_matter_span(lines)
    return _parse(lines, span[0], span[1], source) if span else {}


def annotation_above(lines: list[str], lineno: int, source: str = "<script>") -> dict | None:
    """The ``#|`` block directly above 0-based line ``lineno``, unless it is front matter."""
    end = lineno - 1
    if end < 0 or not is_anno(lines[end]):
        return None
    first = end
    while first - 1 >= 0 and is_anno(lines[first - 1]):
        first -= 1
    span = front_matter_span(lines)
    if span and span[0] == first:
        return None
    return _parse(lines, first, end, source)

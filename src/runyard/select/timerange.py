"""Time ranges for ``started``: ``today``, ``last 3 hours``, ``after 2026-01-02`` …

Guild AI 0.9's ``--started`` grammar. Every range is half-open ``[start, end)``
in local wall-clock time (naive datetimes); ``None`` is an unbounded side.
Keywords are case-insensitive, unit plurals are optional, and ``min``/``mins``
and ``hr``/``hrs`` are accepted. Weeks start on Monday.

* Unit ranges cover whole calendar units:
  ``this minute|hour|day|week|month|year`` is the unit that contains now;
  ``N units ago`` is the unit N steps back (``1 day ago`` = yesterday,
  ``2 hours ago`` at 14:35 = [12:00, 13:00)); ``today``, ``yesterday``.
* ``last N units`` / ``last unit`` is a rolling window ending now, with no end
  bound: ``last hour`` at 14:35:23 is [13:35:23, ∞). ``last month`` goes back
  one calendar month (the day clamped to the month's length), ``last week`` 7
  days. Use ``1 week ago`` for the previous calendar week.
* A datetime on its own covers its own precision: ``2026-01-02`` is that day,
  ``14:30`` that minute today, ``14:30:05`` that second.
  Dates: ``YYYY-MM-DD``, ``YY-MM-DD`` (69–99 → 19YY, else 20YY), ``MM-DD``
  (this year); times: ``HH:MM``, ``HH:MM:SS`` (today); or a date then a time.
* ``before X`` ends where X starts. ``after X`` starts where a unit range X
  ends (``after yesterday`` = from today 00:00), or at a datetime X itself
  (``after 2026-01-02`` = from 2026-01-02 00:00), as Guild does.
* ``between X and Y`` (either order) spans from the earliest to the latest
  moment of X and Y, a datetime counting as a moment:
  ``between 1-1 and 1-31`` = [Jan 1, Jan 31); ``between yesterday and today``
  = [yesterday 00:00, tomorrow 00:00). X and Y may also be ``before …`` /
  ``after …`` ranges, which leave that side unbounded.

Unlike Guild 0.9, ``this month`` ends at the first of the next month (Guild
drops the month's last day) and ``last week|month|year`` and
``last N weeks|months|years`` are accepted.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from ..errors import SelectError
from .syntax import quote

__all__ = ["parse_started", "started_bounds_us"]

_B = r"(?![\w:-])"  # a token ends here

_GRAMMAR = rf"""
start: spec

?spec: unit_range
     | operator_range
     | last_range
     | between
     | datetime

?unit_range: TODAY               -> today
           | YESTERDAY           -> yesterday
           | THIS unit           -> this
           | NUMBER unit AGO     -> ago

unit: MINUTE | HOUR | DAY | WEEK | MONTH | YEAR

?operator_range: BEFORE point    -> before
               | AFTER point     -> after

?point: unit_range | datetime

?last_range: LAST unit           -> last_one
           | LAST NUMBER unit    -> last_n

between: BETWEEN bound AND bound

?bound: unit_range | datetime | operator_range

datetime: DATE | TIME | DATE TIME

TODAY: /today{_B}/i
YESTERDAY: /yesterday{_B}/i
THIS: /this{_B}/i
LAST: /last{_B}/i
AGO: /ago{_B}/i
BEFORE: /before{_B}/i
AFTER: /after{_B}/i
BETWEEN: /between{_B}/i
AND: /and{_B}/i
MINUTE: /(?:minutes?|mins?){_B}/i
HOUR: /(?:hours?|hrs?){_B}/i
DAY: /days?{_B}/i
WEEK: /weeks?{_B}/i
MONTH: /months?{_B}/i
YEAR: /years?{_B}/i
DATE.2: /\d{{1,4}}-\d{{1,2}}(?:-\d{{1,2}})?{_B}/
TIME.2: /\d{{1,2}}:\d{{2}}(?::\d{{2}})?{_B}/
NUMBER: /\d+{_B}/

%ignore /\s+/
"""

_UNITS = {
    "MINUTE": "minute",
    "HOUR": "hour",
    "DAY": "day",
    "WEEK": "week",
    "MONTH": "month",
    "YEAR": "year",
}

_FIXED = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
}


@functools.lru_cache(maxsize=1)
def _parser():
    import lark

    return lark.Lark(_GRAMMAR, parser="lalr", lexer="contextual")


class _Range:
    """An interval; ``point`` marks a datetime (its start is the moment)."""

    __slots__ = ("start", "end", "point")

    def __init__(self, start: datetime | None, end: datetime | None, point: bool = False):
        self.start = start
        self.end = end
        self.point = point


def _floor(dt: datetime, unit: str) -> datetime:
    """The start of the calendar ``unit`` that contains ``dt``."""
    if unit == "minute":
        return dt.replace(second=0, microsecond=0)
    if unit == "hour":
        return dt.replace(minute=0, second=0, microsecond=0)
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _add_months(dt: datetime, months: int) -> datetime:
    """``dt`` moved by whole months, the day clamped to the target month."""
    import calendar

    total = dt.year * 12 + (dt.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)


def _shift(dt: datetime, unit: str, n: int) -> datetime:
    """``dt`` moved by ``n`` units (negative = back in time)."""
    if unit in _FIXED:
        return dt + _FIXED[unit] * n
    if unit == "month":
        return _add_months(dt, n)
    return _add_months(dt, 12 * n)


def _unit_range(now: datetime, unit: str, back: int) -> _Range:
    start = _shift(_floor(now, unit), unit, -back)
    return _Range(start, _shift(start, unit, 1))


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 4:
        return y
    if len(text) == 2:
        return 1900 + y if y >= 69 else 2000 + y
    raise ValueError(f"year '{text}' must have 2 or 4 digits")


class _Builder:
    def __init__(self, now: datetime):
        self.now = now

    def build(self, tree) -> _Range:
        return self._node(tree.children[0])

    def _node(self, node) -> _Range:
        kids = node.children
        data = node.data
        now = self.now
        if data == "today":
            return _unit_range(now, "day", 0)
        if data == "yesterday":
            return _unit_range(now, "day", 1)
        if data == "this":
            return _unit_range(now, self._unit(kids[1]), 0)
        if data == "ago":
            return _unit_range(now, self._unit(kids[1]), int(kids[0]))
        if data == "last_one":
            return _Range(_shift(now, self._unit(kids[1]), -1), None)
        if data == "last_n":
            return _Range(_shift(now, self._unit(kids[2]), -int(kids[1])), None)
        if data == "before":
            r = self._node(kids[1])
            return _Range(None, r.start)
        if data == "after":
            r = self._node(kids[1])
            return _Range(r.start if r.point else r.end, None)
        if data == "between":
            a, b = self._node(kids[1]), self._node(kids[3])
            return _Range(_earliest(a, b), _latest(a, b))
        if data == "datetime":
            return self._datetime(kids)
        raise AssertionError(f"unexpected node {data}")  # pragma: no cover

    @staticmethod
    def _unit(node) -> str:
        return _UNITS[node.children[0].type]

    def _datetime(self, toks) -> _Range:
        now = self.now
        year, month, day = now.year, now.month, now.day
        hour = minute = second = 0
        step = timedelta(days=1)
        for tok in toks:
            if tok.type == "DATE":
                parts = str(tok).split("-")
                if len(parts) == 3:
                    year = _year(parts[0])
                    month, day = int(parts[1]), int(parts[2])
                else:
                    if len(parts[0]) > 2:
                        raise ValueError(f"'{tok}' is not a date (use YYYY-MM-DD)")
                    month, day = int(parts[0]), int(parts[1])
            else:
                parts = str(tok).split(":")
                hour, minute = int(parts[0]), int(parts[1])
                second = int(parts[2]) if len(parts) == 3 else 0
                step = timedelta(seconds=1) if len(parts) == 3 else timedelta(minutes=1)
        start = datetime(year, month, day, hour, minute, second)
        return _Range(start, start + step, point=True)


def _bounds(r: _Range) -> tuple[datetime | None, datetime | None]:
    return (r.start, r.start) if r.point else (r.start, r.end)


def _earliest(a: _Range, b: _Range) -> datetime | None:
    sa, sb = _bounds(a)[0], _bounds(b)[0]
    if sa is None or sb is None:
        return None
    return min(sa, sb)


def _latest(a: _Range, b: _Range) -> datetime | None:
    ea, eb = _bounds(a)[1], _bounds(b)[1]
    if ea is None or eb is None:
        return None
    return max(ea, eb)


_EXPECTED = [
    ({"NUMBER"}, "a number"),
    ({"MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "YEAR"}, "a unit (minute, hour, day, week, month or year)"),
    ({"DATE"}, "a date"),
    ({"TIME"}, "a time"),
] + [({name}, f"'{name.lower()}'") for name in
     ("TODAY", "YESTERDAY", "THIS", "LAST", "BEFORE", "AFTER", "BETWEEN", "AGO", "AND")]


def _syntax_error(text: str, exc) -> SelectError:
    from .syntax import syntax_error

    return syntax_error("time range", text, exc, _EXPECTED)


def parse_started(
    text: str, now: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """Parse a ``started`` time range into half-open ``[start, end)`` bounds.

    Bounds are naive local datetimes; None is unbounded. ``now`` defaults to
    the current local time (an aware ``now`` is converted to local time).
    Raises :class:`~runyard.errors.SelectError` when ``text`` is malformed or
    names an impossible date.
    """
    import lark

    if not isinstance(text, str) or not text.strip():
        raise SelectError(f"invalid time range {text!r}: it is empty")
    if now is None:
        now = datetime.now()
    elif now.tzinfo is not None:
        now = now.astimezone().replace(tzinfo=None)
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    try:
        r = _Builder(now).build(tree)
    except OverflowError:
        raise SelectError(f"invalid time range {quote(text)}: the date is out of range") from None
    except ValueError as exc:
        msg = str(exc)
        if msg.startswith("year "):
            msg = "the date is out of range"
        raise SelectError(f"invalid time range {quote(text)}: {msg}") from None
    return r.start, r.end


def started_bounds_us(
    text: str, now: datetime | None = None
) -> tuple[int | None, int | None]:
    """:func:`parse_started` as microseconds since the epoch (the ``started`` attr's unit)."""
    start, end = parse_started(text, now)

    def us(dt: datetime | None) -> int | None:
        if dt is None:
            return None
        whole = int(dt.replace(microsecond=0).timestamp())
        return whole * 1_000_000 + dt.microsecond

    return us(start), us(end)

"""The ``started`` time-range grammar (select/timerange.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from runyard.errors import SelectError
from runyard.select.timerange import parse_started, started_bounds_us

# A Wednesday afternoon.
NOW = datetime(2019, 5, 1, 14, 35, 23)


def dt(*args) -> datetime:
    return datetime(*args)


def check(text, start, end, now=NOW):
    assert parse_started(text, now) == (start, end)


# --- unit ranges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("this minute", dt(2019, 5, 1, 14, 35), dt(2019, 5, 1, 14, 36)),
        ("1 minute ago", dt(2019, 5, 1, 14, 34), dt(2019, 5, 1, 14, 35)),
        ("5 minutes ago", dt(2019, 5, 1, 14, 30), dt(2019, 5, 1, 14, 31)),
        ("5 min ago", dt(2019, 5, 1, 14, 30), dt(2019, 5, 1, 14, 31)),
        ("5 mins ago", dt(2019, 5, 1, 14, 30), dt(2019, 5, 1, 14, 31)),
        ("this hour", dt(2019, 5, 1, 14), dt(2019, 5, 1, 15)),
        ("1 hour ago", dt(2019, 5, 1, 13), dt(2019, 5, 1, 14)),
        ("1 hr ago", dt(2019, 5, 1, 13), dt(2019, 5, 1, 14)),
        ("5 hrs ago", dt(2019, 5, 1, 9), dt(2019, 5, 1, 10)),
        ("24 hours ago", dt(2019, 4, 30, 14), dt(2019, 4, 30, 15)),
        ("today", dt(2019, 5, 1), dt(2019, 5, 2)),
        ("this day", dt(2019, 5, 1), dt(2019, 5, 2)),
        ("0 days ago", dt(2019, 5, 1), dt(2019, 5, 2)),
        ("yesterday", dt(2019, 4, 30), dt(2019, 5, 1)),
        ("1 day ago", dt(2019, 4, 30), dt(2019, 5, 1)),
        ("1 days ago", dt(2019, 4, 30), dt(2019, 5, 1)),
        ("10 days ago", dt(2019, 4, 21), dt(2019, 4, 22)),
        ("this week", dt(2019, 4, 29), dt(2019, 5, 6)),
        ("1 week ago", dt(2019, 4, 22), dt(2019, 4, 29)),
        ("10 weeks ago", dt(2019, 2, 18), dt(2019, 2, 25)),
        ("this month", dt(2019, 5, 1), dt(2019, 6, 1)),
        ("1 month ago", dt(2019, 4, 1), dt(2019, 5, 1)),
        ("3 months ago", dt(2019, 2, 1), dt(2019, 3, 1)),
        ("15 months ago", dt(2018, 2, 1), dt(2018, 3, 1)),
        ("39 months ago", dt(2016, 2, 1), dt(2016, 3, 1)),
        ("this year", dt(2019, 1, 1), dt(2020, 1, 1)),
        ("1 year ago", dt(2018, 1, 1), dt(2019, 1, 1)),
        ("5 years ago", dt(2014, 1, 1), dt(2015, 1, 1)),
    ],
)
def test_unit_ranges_cover_whole_calendar_units(text, start, end):
    check(text, start, end)


def test_keywords_are_case_insensitive_and_spacing_is_free():
    check("ToDaY", dt(2019, 5, 1), dt(2019, 5, 2))
    check("  THIS   Week ", dt(2019, 4, 29), dt(2019, 5, 6))
    check("2 HOURS AGO", dt(2019, 5, 1, 12), dt(2019, 5, 1, 13))


def test_weeks_start_on_monday():
    monday = dt(2019, 4, 29, 0, 0, 1)
    sunday = dt(2019, 5, 5, 23, 59)
    check("this week", dt(2019, 4, 29), dt(2019, 5, 6), now=monday)
    check("this week", dt(2019, 4, 29), dt(2019, 5, 6), now=sunday)


def test_month_and_year_boundaries():
    new_year = dt(2020, 1, 1, 0, 0, 5)
    check("yesterday", dt(2019, 12, 31), dt(2020, 1, 1), now=new_year)
    check("1 month ago", dt(2019, 12, 1), dt(2020, 1, 1), now=new_year)
    check("this month", dt(2020, 1, 1), dt(2020, 2, 1), now=new_year)
    check("1 hour ago", dt(2019, 12, 31, 23), dt(2020, 1, 1), now=new_year)
    check("this week", dt(2019, 12, 30), dt(2020, 1, 6), now=new_year)
    dec = dt(2019, 12, 31, 22)
    check("this month", dt(2019, 12, 1), dt(2020, 1, 1), now=dec)
    check("this year", dt(2019, 1, 1), dt(2020, 1, 1), now=dec)
    leap = dt(2020, 3, 31, 12)
    check("1 month ago", dt(2020, 2, 1), dt(2020, 3, 1), now=leap)
    check("last month", dt(2020, 2, 29, 12), None, now=leap)
    check("last year", dt(2019, 2, 28, 12), None, now=dt(2020, 2, 29, 12))


# --- last ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, start",
    [
        ("last minute", dt(2019, 5, 1, 14, 34, 23)),
        ("last 2 minutes", dt(2019, 5, 1, 14, 33, 23)),
        ("last 2 mins", dt(2019, 5, 1, 14, 33, 23)),
        ("last hour", dt(2019, 5, 1, 13, 35, 23)),
        ("last 6 hours", dt(2019, 5, 1, 8, 35, 23)),
        ("last 3 hrs", dt(2019, 5, 1, 11, 35, 23)),
        ("last day", dt(2019, 4, 30, 14, 35, 23)),
        ("last 10 days", dt(2019, 4, 21, 14, 35, 23)),
        ("last week", dt(2019, 4, 24, 14, 35, 23)),
        ("last 2 weeks", dt(2019, 4, 17, 14, 35, 23)),
        ("last month", dt(2019, 4, 1, 14, 35, 23)),
        ("last 3 months", dt(2019, 2, 1, 14, 35, 23)),
        ("last year", dt(2018, 5, 1, 14, 35, 23)),
        ("Last 2 Years", dt(2017, 5, 1, 14, 35, 23)),
    ],
)
def test_last_is_a_rolling_window_ending_now(text, start):
    check(text, start, None)


def test_last_and_after_ago_differ():
    check("last 5 minutes", dt(2019, 5, 1, 14, 30, 23), None)
    check("after 5 minutes ago", dt(2019, 5, 1, 14, 31), None)
    check("last 3 days", dt(2019, 4, 28, 14, 35, 23), None)
    check("after 3 days ago", dt(2019, 4, 29), None)


# --- datetimes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("2018-10-31", dt(2018, 10, 31), dt(2018, 11, 1)),
        ("2018-4-9", dt(2018, 4, 9), dt(2018, 4, 10)),
        ("18-10-31", dt(2018, 10, 31), dt(2018, 11, 1)),
        ("89-4-1", dt(1989, 4, 1), dt(1989, 4, 2)),
        ("10-31", dt(2019, 10, 31), dt(2019, 11, 1)),
        ("12-31", dt(2019, 12, 31), dt(2020, 1, 1)),
        ("10:00", dt(2019, 5, 1, 10), dt(2019, 5, 1, 10, 1)),
        ("9:05", dt(2019, 5, 1, 9, 5), dt(2019, 5, 1, 9, 6)),
        ("23:59:59", dt(2019, 5, 1, 23, 59, 59), dt(2019, 5, 2)),
        ("2018-10-31 14:30", dt(2018, 10, 31, 14, 30), dt(2018, 10, 31, 14, 31)),
        ("2018-10-31 14:30:05", dt(2018, 10, 31, 14, 30, 5), dt(2018, 10, 31, 14, 30, 6)),
        ("4-28 15:45", dt(2019, 4, 28, 15, 45), dt(2019, 4, 28, 15, 46)),
    ],
)
def test_a_datetime_alone_covers_its_precision(text, start, end):
    check(text, start, end)


# --- before / after -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("before 2018-4-29", None, dt(2018, 4, 29)),
        ("before 2019-4-29 9:35", None, dt(2019, 4, 29, 9, 35)),
        ("before 2019-4-29 9:35:05", None, dt(2019, 4, 29, 9, 35, 5)),
        ("before 19-4-29 9:35", None, dt(2019, 4, 29, 9, 35)),
        ("before 4-29", None, dt(2019, 4, 29)),
        ("before 23:30", None, dt(2019, 5, 1, 23, 30)),
        ("before today", None, dt(2019, 5, 1)),
        ("before this month", None, dt(2019, 5, 1)),
        ("before 10 minutes ago", None, dt(2019, 5, 1, 14, 25)),
        ("before 2 days ago", None, dt(2019, 4, 29)),
        ("after 2018-4-29", dt(2018, 4, 29), None),
        ("after 2019-4-29 9:35", dt(2019, 4, 29, 9, 35), None),
        ("after 4-28 15:45", dt(2019, 4, 28, 15, 45), None),
        ("after 23:30", dt(2019, 5, 1, 23, 30), None),
        ("after yesterday", dt(2019, 5, 1), None),
        ("after 1 day ago", dt(2019, 5, 1), None),
        ("after 2 weeks ago", dt(2019, 4, 22), None),
        ("after 1 month ago", dt(2019, 5, 1), None),
        ("after 12 months ago", dt(2018, 6, 1), None),
        ("after 1 year ago", dt(2019, 1, 1), None),
        ("AFTER Today", dt(2019, 5, 2), None),
    ],
)
def test_before_and_after(text, start, end):
    check(text, start, end)


# --- between ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("between yesterday and today", dt(2019, 4, 30), dt(2019, 5, 2)),
        ("between today and yesterday", dt(2019, 4, 30), dt(2019, 5, 2)),
        ("between 10 minutes ago and 5 minutes ago", dt(2019, 5, 1, 14, 25), dt(2019, 5, 1, 14, 31)),
        ("between 1-1 and 1-31", dt(2019, 1, 1), dt(2019, 1, 31)),
        ("between 1-31 and 1-1", dt(2019, 1, 1), dt(2019, 1, 31)),
        ("between 0:00 and 12:00", dt(2019, 5, 1), dt(2019, 5, 1, 12)),
        ("between 0:00:05 and 12:00:45", dt(2019, 5, 1, 0, 0, 5), dt(2019, 5, 1, 12, 0, 45)),
        ("between 1-1 0:00:05 and 1-1 12:00:45", dt(2019, 1, 1, 0, 0, 5), dt(2019, 1, 1, 12, 0, 45)),
        ("between 2018-1-1 and 10 days ago", dt(2018, 1, 1), dt(2019, 4, 22)),
        ("between 10 days ago and today", dt(2019, 4, 21), dt(2019, 5, 2)),
        ("between 2019-04-01 and this week", dt(2019, 4, 1), dt(2019, 5, 6)),
        ("between after yesterday and 2019-01-01", dt(2019, 1, 1), None),
        ("between before 2018-01-01 and today", None, dt(2019, 5, 2)),
        ("BETWEEN 2018-12-31 AND 2019-01-02", dt(2018, 12, 31), dt(2019, 1, 2)),
    ],
)
def test_between_spans_both_ends_in_either_order(text, start, end):
    check(text, start, end)


# --- now, epochs ----------------------------------------------------------------------------


def test_now_defaults_to_the_current_local_time():
    before = datetime.now()
    start, end = parse_started("last hour")
    after = datetime.now()
    assert end is None
    assert before - timedelta(hours=1) <= start <= after - timedelta(hours=1)
    start, end = parse_started("today")
    assert start == datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)


def test_an_aware_now_is_converted_to_naive_local_time():
    aware = datetime(2019, 5, 1, 12, 0, tzinfo=timezone.utc)
    local = aware.astimezone().replace(tzinfo=None)
    assert parse_started("last hour", aware) == (local - timedelta(hours=1), None)


def test_started_bounds_us_matches_the_started_attr_unit():
    start, end = started_bounds_us("2019-05-01", NOW)
    assert start == int(dt(2019, 5, 1).timestamp()) * 1_000_000
    assert end == int(dt(2019, 5, 2).timestamp()) * 1_000_000
    assert started_bounds_us("after 2019-05-01 10:00", NOW)[1] is None
    # A run started at 13:00 today is inside "today" in microseconds, as Guild stores it.
    run_started = int(dt(2019, 5, 1, 13).timestamp() * 1_000_000)
    lo, hi = started_bounds_us("today", NOW)
    assert lo <= run_started < hi


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("a", "unexpected 'a' at column 1, expected a number"),
        ("aftr last week", "unexpected 'aftr' at column 1"),
        ("after the equinox", "unexpected 'the' at column 7"),
        ("yearsss ago", "unexpected 'yearsss' at column 1"),
        ("2015-01-03-01", "unexpected '2015-01-03-01' at column 1"),
        ("1:2", "unexpected '1:2' at column 1"),
        ("this", "expected a unit (minute, hour, day, week, month or year) at the end"),
        ("last", "expected a number or a unit"),
        ("3 days", "expected 'ago' at the end"),
        ("between today", "expected 'and' at the end"),
        ("today and yesterday", "unexpected 'and' at column 7"),
        ("after after today", "unexpected 'after' at column 7"),
        ("last 2.5 hours", "unexpected"),
        ("before 2018-4-31", "day is out of range for month"),
        ("2019-02-29", "day is out of range for month"),
        ("13-01", "month must be in 1..12"),
        ("between 11:00 and 24:00", "hour must be in 0..23"),
        ("10:61", "minute must be in 0..59"),
        ("123-01", "'123-01' is not a date (use YYYY-MM-DD)"),
        ("99999999 years ago", "the date is out of range"),
        ("9999999999 days ago", "the date is out of range"),
    ],
)
def test_malformed_ranges_raise_one_line_select_errors(text, message):
    with pytest.raises(SelectError) as info:
        parse_started(text, NOW)
    msg = str(info.value)
    assert message in msg
    assert msg.startswith("invalid time range ")
    assert "\n" not in msg
    assert info.value.exit_code == 2

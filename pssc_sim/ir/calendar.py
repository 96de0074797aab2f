"""Model time as calendar time: the date at a model time, for the tables, plots and reports
planners read.

A model's clock reads the calendar when its ``time:`` block gives an ``origin`` (the date or
year at time zero) and its time unit is one a calendar can be read in (seconds to years), or
when it runs in years whose values are the calendar years themselves (a start of year 1000 or
later and no origin: ``time: {start: 2012, stop: 2035, units: year}``).
"""

from __future__ import annotations

import datetime

from pssc_sim.ir.model import TimeSpec

#: Days in one model time unit, for the units a calendar can be read from.
DAYS = {
    "second": 1 / 86_400,
    "minute": 1 / 1_440,
    "hour": 1 / 24,
    "day": 1.0,
    "week": 7.0,
    "month": 365.25 / 12,
    "quarter": 365.25 / 4,
    "year": 365.25,
}
#: The first model time read as a calendar year in a model in years without an origin.
FIRST_CALENDAR_YEAR = 1000


def unit_word(unit: str) -> str:
    """``hours`` -> ``hour``; other words unchanged."""
    word = unit.strip().lower()
    return word[:-1] if word.endswith("s") and word[:-1] in DAYS else word


def calendar_years(time: TimeSpec) -> bool:
    """Whether the model runs in years whose values are calendar years (2012, 2013, ...)."""
    return not time.origin and unit_word(time.units) == "year" and time.start >= FIRST_CALENDAR_YEAR


def origin_date(time: TimeSpec) -> datetime.date | None:
    """The calendar date at time zero, when the model gives ``time.origin`` and a time unit a
    calendar can be read in."""
    if not time.origin or unit_word(time.units) not in DAYS:
        return None
    text = time.origin if "-" in time.origin else f"{time.origin}-01-01"
    return datetime.date.fromisoformat(text)


def moment(time: TimeSpec, t: float) -> datetime.datetime | None:
    """The calendar date and time at model time ``t`` (None when the clock reads no calendar).

    Examples
    --------
    >>> moment(TimeSpec(0, 48, 1, 1, "hour", "2003-04-01"), 36)
    datetime.datetime(2003, 4, 2, 12, 0)
    >>> moment(TimeSpec(2012, 2035, 0.25, 0.25, "year"), 2019.5)
    datetime.datetime(2019, 7, 2, 12, 0)
    """
    if calendar_years(time):
        year = int(t // 1)
        start = datetime.datetime(year, 1, 1)
        length = datetime.datetime(year + 1, 1, 1) - start
        return start + (t - year) * length
    zero = origin_date(time)
    if zero is None:
        return None
    days = datetime.timedelta(days=t * DAYS[unit_word(time.units)])
    return datetime.datetime.combine(zero, datetime.time()) + days


def calendar(time: TimeSpec, t: float) -> datetime.date | None:
    """The calendar date at model time ``t`` (None when the clock reads no calendar)."""
    found = moment(time, t)
    return None if found is None else found.date()


def iso(time: TimeSpec, t: float) -> str:
    """Model time ``t`` as ISO text: a date, with hours and minutes for a model in hours or
    shorter units ('' when the clock reads no calendar).

    >>> iso(TimeSpec(0, 48, 1, 1, "hour", "2003-04-01"), 36)
    '2003-04-02 12:00'
    >>> iso(TimeSpec(0, 730, 1, 1, "day", "2016-04-01"), 365)
    '2017-04-01'
    """
    found = moment(time, t)
    if found is None:
        return ""
    if DAYS.get(unit_word(time.units), 1.0) < 1:
        return f"{found:%Y-%m-%d %H:%M}"
    return f"{found:%Y-%m-%d}"

"""Numbers, units and times in the words a service manager reads.

- units are pluralised and written out: ``8 minutes``, ``3,500 calls per day``;
- a difference of two shares is in percentage points, not percent;
- model times become calendar dates where the model says what time zero is (``time.origin``).
"""

from __future__ import annotations

from typing import Any

from pssc_sim.ir.calendar import DAYS, calendar, calendar_years, origin_date
from pssc_sim.ir.model import Measure, TimeSpec

__all__ = [
    "DAYS",
    "amount",
    "calendar",
    "date_axis",
    "label",
    "origin_date",
    "plural",
    "points",
    "quantity",
    "singular",
    "when",
]
_IRREGULAR = {
    "person": "people",
    "child": "children",
    "dimensionless": "",
    "percentage_point": "percentage points",
    "degC": "\u00b0C",
}


def singular(unit: str) -> str:
    """``hours`` -> ``hour``; other words unchanged."""
    word = unit.strip().lower()
    return word[:-1] if word.endswith("s") and word[:-1] in DAYS else word


def plural(unit: str) -> str:
    """A unit word for a count other than one.

    >>> plural("minute"), plural("person"), plural("MtCO2"), plural("GBP")
    ('minutes', 'people', 'MtCO2', 'GBP')
    """
    if unit in _IRREGULAR:
        return _IRREGULAR[unit]
    if not unit.isalpha() or not unit.islower() or unit.endswith("s"):
        return unit  # symbols and abbreviations (MtCO2, GBP, km) take no plural
    return unit + "es" if unit.endswith(("ch", "sh", "x")) else unit + "s"


def quantity(value: float, units: str, digits: int = 3) -> str:
    """``value`` with its units in words.

    >>> quantity(8, "minute"), quantity(1, "minute"), quantity(3500, "call/day")
    ('8 minutes', '1 minute', '3,500 calls per day')
    >>> quantity(0.42, "dimensionless"), quantity(2.5, "GBP/day")
    ('0.42', '2.5 GBP per day')
    """
    text = amount(value, digits)
    if not units or units == "dimensionless":
        return text
    top, *below = units.split("/")
    top = top.strip("() ")
    word = top.replace("_", " ") if abs(value) == 1 else plural(top)
    rest = "".join(f" per {b.strip('() ')}" for b in below)
    return f"{text} {word}{rest}"


def amount(value: float, digits: int = 3) -> str:
    """A number to ``digits`` significant figures, with thousands separated.

    >>> amount(3500), amount(0.12345), amount(17520.4)
    ('3,500', '0.123', '17,520')
    """
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def points(difference: float) -> str:
    """A difference of two shares in percentage points.

    >>> points(0.146), points(-0.01)
    ('14.6 percentage points', '-1.0 percentage point')
    """
    value = 100 * difference
    unit = "percentage point" if abs(round(value, 1)) == 1 else "percentage points"
    return f"{value:.1f} {unit}"


def label(measure: Measure) -> str:
    """The words for a measure: its ``label``, else its name with spaces."""
    return measure.meta.label or measure.name.replace("_", " ")


def when(time: TimeSpec, t: float) -> str:
    """Model time ``t`` as a reader says it: a date where the model has an origin.

    >>> when(TimeSpec(0, 730, 1, 1, "day", "2004-04-01"), 730)
    '1 April 2006'
    >>> when(TimeSpec(0, 10, 1, 1, "week"), 8)
    'week 8'
    >>> when(TimeSpec(2012, 2035, 0.125, 0.125, "year"), 2020), when(
    ...     TimeSpec(2012, 2035, 0.125, 0.125, "year"), 2019.25)
    ('2020', '2 April 2019')
    """
    if calendar_years(time) and float(t).is_integer():
        return f"{t:.0f}"
    date = calendar(time, t)
    if date is not None:
        return f"{date.day} {date:%B %Y}"
    unit = singular(time.units)
    return f"{unit} {amount(t)}" if unit else f"time {amount(t)}"


def date_axis(ax: Any, time: TimeSpec) -> bool:
    """Label the x axis of ``ax`` (in model time) with calendar years or dates, when the model
    has an origin; return whether it did."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if calendar_years(time):
        ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda t, _position: f"{t:.0f}"))
        ax.set_xlabel("year")
        return True
    start = origin_date(time)
    if start is None:
        return False
    span_days = (time.stop - time.start) * DAYS[singular(time.units)]
    form = "%Y" if span_days > 3 * 365 else "%b %Y" if span_days > 90 else "%d %b %Y"

    def tick(t: float, _position: int) -> str:
        date = calendar(time, t)
        return "" if date is None else f"{date:{form}}"

    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.xaxis.set_major_formatter(FuncFormatter(tick))
    ax.set_xlabel("date")
    return True

"""Calendar arithmetic shared by the English and Chinese date finders.

All functions are pure and take the call's ``today`` explicitly, so the
resolution rules live in one place and both locales agree on them:

* weeks start on Monday (ISO), so "next week" is the Monday after this one;
* a bare weekday is its next occurrence and *includes today*;
* "next <weekday>" is that weekday in the next calendar week;
* a day of month ("the 15th") or a month/day ("Dec 3") is its next
  occurrence, including today, rolling into the next month/year when past.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

_MAX_YEARS_AHEAD = 8  # enough to reach the next 29 February


def last_day_of_month(year: int, month: int) -> int:
    """Number of days in ``month`` of ``year``."""
    return calendar.monthrange(year, month)[1]


def add_days(today: date, days: int) -> date:
    """``today`` shifted by ``days`` (thin wrapper so callers read uniformly)."""
    return today + timedelta(days=days)


def add_months(today: date, months: int, day: int | None = None) -> date:
    """Same (or given) day ``months`` later, clamped to the month's last day.

    "In a month" said on 31 January means 28/29 February, not 3 March.
    """
    index = today.month - 1 + months
    year, month = today.year + index // 12, index % 12 + 1
    wanted = today.day if day is None else day
    return date(year, month, min(wanted, last_day_of_month(year, month)))


def end_of_month(today: date, months_ahead: int = 0) -> date:
    """Last day of the current month (or of a month ``months_ahead`` later)."""
    first = add_months(today.replace(day=1), months_ahead)
    return first.replace(day=last_day_of_month(first.year, first.month))


def first_of_next_month(today: date) -> date:
    """The 1st of the month after ``today``'s."""
    return add_months(today.replace(day=1), 1)


def upcoming_weekday(today: date, weekday: int) -> date:
    """Next occurrence of ``weekday`` (Monday=0), today included.

    "Friday" said on a Friday means today: a debtor promising "Friday" on the
    day itself almost always means "later today", and a week's delay would be
    a worse error for a payment promise than an early reminder.
    """
    return add_days(today, (weekday - today.weekday()) % 7)


def next_week_monday(today: date) -> date:
    """Monday of the next calendar week (never today)."""
    return add_days(today, 7 - today.weekday())


def weekday_of_next_week(today: date, weekday: int) -> date:
    """``weekday`` in the next calendar week ("next Friday", "下周五").

    On a Friday this is +7 days; on a Monday it is 11 days ahead, i.e. not the
    coming Friday (that one is "this Friday" / plain "Friday").
    """
    return add_days(next_week_monday(today), weekday)


def coming_saturday(today: date) -> date:
    """Start of "this weekend": Saturday, or today when today is Sat/Sun."""
    if today.weekday() == 6:
        return today
    return upcoming_weekday(today, 5)


def next_day_of_month(today: date, day: int) -> date | None:
    """Next date whose day-of-month is ``day`` (today included).

    Months too short for ``day`` are skipped ("the 31st" said in November is
    31 December). Returns ``None`` for an impossible day.
    """
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    if day < today.day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for _ in range(13):
        if day <= last_day_of_month(year, month):
            return date(year, month, day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def day_in_month_offset(today: date, months_ahead: int, day: int) -> date | None:
    """``day`` of the month ``months_ahead`` from now ("the 15th of next month").

    ``None`` when that month has no such day, rather than silently clamping:
    "the 31st of next month" in a 30-day month is a mishearing to confirm.
    """
    first = add_months(today.replace(day=1), months_ahead)
    if not 1 <= day <= last_day_of_month(first.year, first.month):
        return None
    return first.replace(day=day)


def next_month_day(today: date, month: int, day: int, year: int | None = None) -> date | None:
    """Next occurrence of ``month``/``day`` (today included), or that exact date
    when ``year`` is given. ``None`` when no such date exists.

    "December 3" said on 30 December 2026 means 2027-12-03; "Feb 29" rolls to
    the next leap year.
    """
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if year is not None:
        if day > last_day_of_month(year, month):
            return None
        return date(year, month, day)
    start = today.year if (month, day) >= (today.month, today.day) else today.year + 1
    for candidate in range(start, start + _MAX_YEARS_AHEAD):
        if day <= last_day_of_month(candidate, month):
            return date(candidate, month, day)
    return None

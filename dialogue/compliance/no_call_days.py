"""No-call days for a profile and a debtor: the country's public holidays, generated for any
year by the `holidays` package, with the profile's YAML additions and removals on top.

Hand-kept lists went wrong twice (4 of the 11 US federal holidays, and both lists ending
within two years with nothing to say so); a generated calendar cannot run out, and the YAML
stays the place where a lender adds its own days or removes one. Pure: the package computes
its dates, nothing is read from disk or the network; each (country, subdivision, year) is
built once per process.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays as holiday_data

from dialogue.compliance.profile import HolidayRules

LISTED = "a no-call day listed in the profile"
#: libphonenumber's geocoder names that the `holidays` package spells otherwise.
GEOCODER_NAMES = {"Washington D.C.": "DC"}


def _country(country: str, subdivision: str | None, years: range) -> holiday_data.HolidayBase:
    try:
        return holiday_data.country_holidays(country, subdiv=subdivision, years=years, language="en_US")
    except NotImplementedError:
        raise ValueError(f"unknown subdivision {subdivision!r} of {country} for its holidays") from None


def _break_around(calendar: holiday_data.HolidayBase, day: date, step: int) -> list[date]:
    """The days off next to a holiday, going one way: weekend days that are not make-up
    working days (China moves work to weekends around its long breaks)."""
    out, cursor = [], day + timedelta(days=step)
    while cursor not in calendar and not calendar.is_working_day(cursor):
        out.append(cursor)
        cursor += timedelta(days=step)
    return out


@lru_cache(maxsize=256)
def generated(country: str, subdivision: str | None, whole_breaks: bool, year: int) -> dict[date, str]:
    """The package's holidays of `year` (with their names); with `whole_breaks`, also the
    weekend days joined to them. Raises ValueError for an unknown subdivision."""
    calendar = _country(country, subdivision, range(year - 1, year + 2))
    days = {d: str(name) for d, name in calendar.items() if d.year == year}
    if whole_breaks:
        for holiday in [d for d in calendar if abs(d.year - year) <= 1]:
            for day in _break_around(calendar, holiday, -1) + _break_around(calendar, holiday, 1):
                if day.year == year:
                    days.setdefault(day, f"days off around {calendar[holiday]}")
    return days


def holiday_name(rules: HolidayRules, day: date, subdivision: str | None = None) -> str | None:
    """Why `day` (the debtor's local date) is a no-call day, or None when it is not.

    `subdivision` (e.g. "CA" for California) counts only when the profile says so."""
    if day in rules.remove:
        return None
    if day in rules.add:
        return LISTED
    if rules.country is None:
        return None
    sub = subdivision.upper() if subdivision and rules.subdivisions else None
    return generated(rules.country, sub, rules.whole_breaks, day.year).get(day)


def subdivision_of_phone(rules: HolidayRules, phone: str | None) -> str | None:
    """The state (province, ...) the debtor's number belongs to, for an account that names none.

    Why: a state holiday missed is a call on a day the debtor's state keeps free; taking the
    number's state when the account does not say is the cautious reading (a number kept after
    a move can add a no-call day, never remove one). Only a number of the profile's own country
    counts (an Ontario number says nothing about US states), and only a name the `holidays`
    package knows as a subdivision of it ("Connecticut" -> CT, "San Francisco, CA" -> CA)."""
    from dialogue.phones import place_name  # phonenumbers' geocoder: loaded only when needed

    if not (rules.country and rules.subdivisions):
        return None
    named = place_name(phone, rules.country)
    if named is None:
        return None
    calendar = holiday_data.country_holidays(rules.country, years=range(0))
    codes = set(calendar.subdivisions)
    if named[0] != rules.country.upper():
        # Puerto Rico, Guam, the US Virgin Islands...: their own regions to the numbering plan,
        # subdivisions to the country's law and calendar.
        return named[0] if named[0] in codes else None
    aliases = {**(getattr(calendar, "subdivisions_aliases", {}) or {}), **GEOCODER_NAMES}
    name = named[1]
    if ", " in name and name.rsplit(", ", 1)[1] in codes:
        return name.rsplit(", ", 1)[1]
    return aliases.get(name) if aliases.get(name) in codes else None


def check_subdivision(rules: HolidayRules, subdivision: str | None) -> None:
    """Raise ValueError when the account names a subdivision the profile's calendar lacks."""
    if rules.country and rules.subdivisions and subdivision:
        _country(rules.country, subdivision.upper(), range(0))

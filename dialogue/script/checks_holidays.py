"""Warn before a hand-kept holiday list runs out.

A profile whose `holidays` is a plain list of dates (no `country` to generate them from) is
only as good as its last date: the day after it, calls go out on holidays and nothing says
so. The validator warns while there is time to act, when fewer than 12 months of the list
remain. Generated calendars (`holidays: {country: US}`) never run out and are not warned
about. `today` is passed in: the validator's command reads the clock, not this module.
"""

from __future__ import annotations

from datetime import date

from dialogue.compliance.profile import ProfileError, load_profile, profile_path
from dialogue.script.checks_compliance import profiles_folder
from dialogue.script.loader import LocaleScripts
from dialogue.problems import Problem
from dialogue.yaml_source import load_yaml

RUNWAY_MONTHS = 12


def a_year_after(today: date) -> date:
    """The same date next year (28 February for 29 February)."""
    try:
        return today.replace(year=today.year + 1)
    except ValueError:
        return today.replace(year=today.year + 1, day=28)


def check_holiday_runway(scripts: LocaleScripts, today: date) -> list[Problem]:
    name = scripts.strategy.jurisdiction
    if name is None:
        return []
    folder = profiles_folder(scripts)
    try:
        rules = load_profile(name, folder).holidays
    except ProfileError:
        return []   # reported as unknown-jurisdiction by check_disclosures
    if rules.country is not None or not rules.add or max(rules.add) >= a_year_after(today):
        return []
    path = profile_path(name, folder)
    doc, _ = load_yaml(path)
    last = max(rules.add)
    message = (f"jurisdiction {name!r} lists holidays only up to {last.isoformat()}, less than "
               f"{RUNWAY_MONTHS} months after {today.isoformat()}: add the coming dates, or set "
               f"`holidays: {{country: XX}}` to generate them")
    if doc is None:
        return [Problem(str(path), 1, 1, message, "warning", "holidays-running-out")]
    return [doc.problem(("holidays",), message, "holidays-running-out", key=True, severity="warning")]

"""No-call days generated from the `holidays` package for any year, with the profile's YAML
additions and removals on top, and a validator warning before a hand-kept list runs out.

Before: `us.yaml` listed 4 of the 11 federal holidays and ended in 2027, `cn.yaml` ended in
2026, and nothing said so."""

from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest

from dialogue.accounts import Account
from dialogue.compliance import load_profile, may_call
from voicebot.script_validation import validate_paths

REPO = Path(__file__).resolve().parents[1]
NEW_YORK, SHANGHAI = ZoneInfo("America/New_York"), ZoneInfo("Asia/Shanghai")

# The State Council's 2026 schedule (国务院办公厅), every day off: what `cn.yaml` listed by hand.
CN_2026 = ["2026-01-01", "2026-01-02", "2026-01-03", *(f"2026-02-{d}" for d in range(15, 24)),
           "2026-04-04", "2026-04-05", "2026-04-06", *(f"2026-05-0{d}" for d in range(1, 6)),
           "2026-06-19", "2026-06-20", "2026-06-21", "2026-09-25", "2026-09-26", "2026-09-27",
           *(f"2026-10-0{d}" for d in range(1, 8))]


def noon(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(12), tzinfo=tz)


def us(accounts: dict[str, Account], **changes) -> Account:
    return accounts["EN-LATE-1"].model_copy(update={"timezone": "America/New_York", **changes})


@pytest.mark.parametrize("year", [2026, 2027, 2029, 2031])
def test_every_us_federal_holiday_of_any_year_is_a_no_call_day(accounts, year):
    federal = holidays.country_holidays("US", years=year)
    assert len({name.replace(" (observed)", "") for name in federal.values()}) == 11
    for day, name in federal.items():
        decision = may_call(us(accounts), [], noon(day, NEW_YORK))
        assert (decision.rule, day.isoformat() in decision.reason) == ("holidays", True), (day, name)
    assert may_call(us(accounts), [], noon(date(year, 8, 12), NEW_YORK)).rule != "holidays"


def test_cn_calendar_is_the_state_councils_whole_breaks_and_goes_on_after_2026(accounts):
    zh = accounts["ZH-EARLY-1"].model_copy(update={"timezone": "Asia/Shanghai"})
    days_off = [d.isoformat() for d in (date(2026, 1, 1) + timedelta(n) for n in range(365))
                if may_call(zh, [], noon(d, SHANGHAI)).rule == "holidays"]
    assert days_off == CN_2026
    assert may_call(zh, [], noon(date(2026, 2, 14), SHANGHAI)).allowed, "a make-up working Saturday"
    assert may_call(zh, [], noon(date(2027, 2, 6), SHANGHAI)).rule == "holidays"   # Spring Festival 2027
    assert may_call(zh, [], noon(date(2028, 10, 2), SHANGHAI)).rule == "holidays"  # National Day 2028


def test_yaml_adds_and_removes_days_on_top_of_the_generated_calendar(accounts, tmp_path):
    text = (REPO / "scripts" / "jurisdictions" / "us.yaml").read_text(encoding="utf-8")
    text = text.replace("  add: []", "  add: [2026-12-24]").replace("  remove: []", "  remove: [2026-11-11]")
    (tmp_path / "us.yaml").write_text(text, encoding="utf-8")
    profile = load_profile("us", tmp_path)
    added = may_call(us(accounts), [], noon(date(2026, 12, 24), NEW_YORK), profile=profile)
    assert (added.rule, "listed in the profile" in added.reason) == ("holidays", True)
    assert may_call(us(accounts), [], noon(date(2026, 11, 11), NEW_YORK), profile=profile).allowed  # Veterans Day
    assert may_call(us(accounts), [], noon(date(2026, 11, 26), NEW_YORK), profile=profile).rule == "holidays"


def test_state_holidays_count_for_an_account_in_that_state(accounts):
    patriots_day = noon(date(2026, 4, 20), NEW_YORK)
    assert may_call(us(accounts), [], patriots_day).allowed
    assert may_call(us(accounts, subdivision="MA"), [], patriots_day).rule == "holidays"
    unknown = may_call(us(accounts, subdivision="XX"), [], patriots_day)
    assert (unknown.allowed, unknown.rule, unknown.next_allowed_at) == (False, "holidays", None)
    assert "unknown subdivision 'XX'" in unknown.reason


def test_a_plain_list_of_dates_still_loads_as_the_whole_calendar(tmp_path):
    (tmp_path / "xx.yaml").write_text("title: X\ncalling_window: {start: '08:00', end: '21:00'}\n"
                                      "voicemail: hang_up\nholidays: [2026-01-01, 2026-12-25]\n")
    rules = load_profile("xx", tmp_path).holidays
    assert (rules.country, rules.add) == (None, [date(2026, 1, 1), date(2026, 12, 25)])


def _zh_with_listed_holidays(tmp_path: Path, last: str) -> Path:
    """scripts/zh copied beside a jurisdictions folder whose cn profile is a hand-kept list."""
    root = tmp_path / "zh"
    shutil.copytree(REPO / "scripts" / "zh", root)
    (tmp_path / "jurisdictions").mkdir()
    text = (REPO / "scripts" / "jurisdictions" / "cn.yaml").read_text(encoding="utf-8")
    start, end = text.index("holidays:"), text.index("timezones:")
    listed = "holidays:\n  - 2026-01-01\n  - " + last + "\n"
    (tmp_path / "jurisdictions" / "cn.yaml").write_text(text[:start] + listed + text[end:], encoding="utf-8")
    return root


def test_the_validator_warns_when_a_hand_kept_list_has_less_than_12_months_left(tmp_path):
    root = _zh_with_listed_holidays(tmp_path, "2026-10-07")
    (warning,) = [p for p in validate_paths([root], today=date(2026, 1, 15)) if p.code == "holidays-running-out"]
    lines = (tmp_path / "jurisdictions" / "cn.yaml").read_text(encoding="utf-8").splitlines()
    key_line = lines.index("holidays:") + 1
    assert (warning.severity, Path(warning.file).name, warning.line, warning.column) == \
        ("warning", "cn.yaml", key_line, 1)
    assert "2026-10-07" in warning.message and "12 months" in warning.message
    assert not [p for p in validate_paths([root], today=date(2025, 10, 7)) if p.code == "holidays-running-out"]


def test_the_shipped_generated_calendars_never_warn():
    later = date(2040, 6, 1)
    problems = validate_paths([REPO / "scripts" / "en", REPO / "scripts" / "zh"], today=later)
    assert not [p for p in problems if p.code == "holidays-running-out"]


def test_an_account_without_a_state_gets_its_numbers_state_holidays(accounts):
    """Lincoln's Birthday is a Connecticut holiday: a Connecticut number with no `subdivision`
    on the account keeps it free; the account's own state, when given, is what counts; a
    number of another country (Ontario) or a toll-free one names no US state."""
    lincoln = noon(date(2026, 2, 12), NEW_YORK)
    connecticut = us(accounts, phone="+18605550100", subdivision=None)
    decision = may_call(connecticut, [], lincoln)
    assert (decision.rule, "Lincoln" in decision.reason) == ("holidays", True)
    assert may_call(us(accounts, phone="+18605550100", subdivision="MA"), [], lincoln).allowed
    assert may_call(us(accounts, phone="+14165550100", subdivision=None), [], lincoln).allowed
    assert may_call(us(accounts, phone="+18005550100", subdivision=None), [], lincoln).allowed
    assert may_call(us(accounts, phone="+14155550100", subdivision=None), [], lincoln).allowed  # "San Francisco, CA"


def test_washington_dc_and_puerto_rico_numbers_keep_their_own_holidays(accounts):
    """The geocoder names DC "Washington D.C." (the `holidays` package: "District of
    Columbia"), and a Puerto Rico number is its own region to the numbering plan (+1 787) but a
    US subdivision to the calendar: both were read as no state at all before."""
    dc_emancipation = noon(date(2026, 4, 16), NEW_YORK)
    decision = may_call(us(accounts, phone="+12025550100", subdivision=None), [], dc_emancipation)
    assert (decision.rule, "Emancipation" in decision.reason) == ("holidays", True)
    assert may_call(us(accounts, phone="+18605550100", subdivision=None), [], dc_emancipation).allowed
    three_kings = noon(date(2026, 1, 6), NEW_YORK)
    decision = may_call(us(accounts, phone="+17875550100", subdivision=None), [], three_kings)
    assert (decision.rule, "Epiphany" in decision.reason) == ("holidays", True)
    assert may_call(us(accounts, phone="+18605550100", subdivision=None), [], three_kings).allowed

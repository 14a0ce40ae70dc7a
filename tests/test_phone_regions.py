"""Phone numbers land in their own country and zone (libphonenumber's metadata, not a table of
"common" area codes), and accounts hold them in E.164 from the moment they are read.

Before: `860-555-0100` (Connecticut) was read as country code 86 (China, Asia/Shanghai),
`(520) 555-0100` as 52 (Mexico City), `440-555-0100` as 44 (London); `+1 416` (Toronto) was
a US number and `+1 787` (Puerto Rico) got every mainland US zone."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dialogue.accounts import AccountError, load_accounts
from dialogue.compliance.regions import region_of
from dialogue.compliance.rules import may_call

UTC = timezone.utc
NOON_ET = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)   # a Tuesday, 12:00 in New York


def _write(path: Path, rows: list[dict]) -> Path:
    base = {"name": "Pat Doe", "lender": "Cascade Bank", "amount": 100.0, "minimum_payment": 10.0,
            "due_date": "2026-11-20", "days_overdue": 4, "payment_methods": ["online banking"],
            "agent_line": "1-800-555-0199", "locale": "en"}
    path.write_text(json.dumps([{**base, **row} for row in rows]), encoding="utf-8")
    return path


@pytest.mark.parametrize("written, e164, jurisdiction, zones", [
    ("860-555-0100", "+18605550100", "us", ("America/New_York",)),      # Connecticut, not China
    ("(520) 555-0100", "+15205550100", "us", ("America/Phoenix",)),     # Tucson, not Mexico City
    ("440-555-0100", "+14405550100", "us", ("America/New_York",)),      # Ohio, not London
    ("+1 416 555 0100", "+14165550100", None, ("America/Toronto",)),    # Canada: no US rules
    ("+1 787 555 0100", "+17875550100", "us", ("America/Puerto_Rico",)),  # a US territory, its own zone
])
def test_a_loaded_account_is_placed_by_its_own_country_and_area_code(tmp_path, written, e164, jurisdiction, zones):
    (account,) = load_accounts(_write(tmp_path / "a.json", [{"id": "A", "phone": written}]))
    assert account.phone == e164
    assert region_of(account.phone) == (jurisdiction, zones)
    decision = may_call(account, [], NOON_ET)
    assert decision.jurisdiction == jurisdiction
    if jurisdiction is None:
        assert decision.rule == "jurisdiction"   # no profile for Canada: never called under US rules
    else:
        assert decision.zones == zones
    assert region_of(written, "US") == (jurisdiction, zones)   # a national number, read in a region


def test_national_numbers_are_read_in_the_jurisdictions_region_else_the_locales(tmp_path):
    rows = [{"id": "US-J", "phone": "212 555 0103", "jurisdiction": "us", "locale": "zh"},
            {"id": "ZH-L", "phone": "138 0000 0001", "locale": "zh"},
            {"id": "EN-L", "phone": "1-206-555-0101"},
            {"id": "INTL", "phone": "0086 138 0000 0002"}]
    phones = {a.id: a.phone for a in load_accounts(_write(tmp_path / "a.json", rows))}
    assert phones == {"US-J": "+12125550103", "ZH-L": "+8613800000001", "EN-L": "+12065550101",
                      "INTL": "+8613800000002"}


def test_an_unreadable_phone_fails_the_load_naming_the_account(tmp_path):
    with pytest.raises(AccountError, match=r"a\.json: account FR-1: .*'06 12 34 56 78'.*no default region"):
        load_accounts(_write(tmp_path / "a.json", [{"id": "FR-1", "phone": "06 12 34 56 78", "locale": "fr"}]))
    with pytest.raises(AccountError, match=r"account SHORT: .*impossible length"):
        load_accounts(_write(tmp_path / "b.json", [{"id": "SHORT", "phone": "+1 212 555 01"}]))


def test_fictional_555_numbers_are_placed_by_area_code_and_unassigned_codes_by_country_only():
    from dialogue.phones import place_of, to_e164

    assert place_of("+12125550103").zones == ("America/New_York",)     # valid area code, fictional line
    unassigned = place_of("+15555550103")                               # no such area code
    assert (unassigned.region, unassigned.zones) == ("US", ())
    assert region_of("+18005550100") == ("us", ())                      # toll-free: anywhere
    assert region_of("+19075550100") == ("us", ("America/Adak", "America/Anchorage"))
    assert to_e164("(212) 555-0103", "US") == "+12125550103"


def test_every_home_region_maps_back_to_its_jurisdiction():
    from dialogue.compliance.regions import JURISDICTIONS
    from dialogue.phones import JURISDICTION_HOME

    assert all(JURISDICTIONS[region] == name for name, region in JURISDICTION_HOME.items())

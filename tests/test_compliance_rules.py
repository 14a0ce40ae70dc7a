"""The contact-rules engine at each rule's edges, with the instant passed in (no clock read):
calling windows in several zones and across DST changes, the Reg F 7-in-7 and 7-days-after-a-
conversation rules, the cn daily caps, holidays, the phone-region fallback and the profiles."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dialogue.accounts import Account
from dialogue.compliance import ProfileError, load_profile
from dialogue.compliance.regions import region_of
from dialogue.compliance.rules import Attempt, may_call

UTC = timezone.utc
S = timedelta(seconds=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def acct(accounts: dict[str, Account], base: str, **changes) -> Account:
    return accounts[base].model_copy(update=changes)


def test_profiles_load_with_the_fields_part_b_reads():
    us, cn = load_profile("us"), load_profile("cn")
    assert (us.voicemail, cn.voicemail) == ("leave_message", "hang_up")
    assert set(us.required_disclosures) == set(cn.required_disclosures) == {"recording_notice", "debt_collection_notice"}
    assert (us.limits.per_debt_in_days, us.limits.quiet_days_after_conversation) == (7, 7)
    assert (cn.limits.connected_per_day, cn.limits.unanswered_per_day, cn.debtor_only) == (3, 6, True)


def test_a_bad_profile_is_refused_naming_file_and_field(tmp_path: Path):
    (tmp_path / "xx.yaml").write_text("title: X\ncalling_window: {start: '21:00', end: '08:00'}\nvoicemail: hang_up\n")
    with pytest.raises(ProfileError, match=r"xx\.yaml: calling_window: .*end must be after start"):
        load_profile("xx", tmp_path)
    (tmp_path / "yy.yaml").write_text("title: Y\ncalling_window: {start: '08:00', end: '20:00'}\nvoicemail: beep\n")
    with pytest.raises(ProfileError, match=r"yy\.yaml: voicemail"):
        load_profile("yy", tmp_path)
    with pytest.raises(ProfileError, match=r"unknown jurisdiction 'zz'.*available: xx, yy"):
        load_profile("zz", tmp_path)


@pytest.mark.parametrize("base, zone, start, end", [
    ("EN-EARLY-1", "America/Los_Angeles", "08:00", "21:00"),
    ("EN-EARLY-1", "America/New_York", "08:00", "21:00"),
    ("EN-EARLY-1", "Pacific/Honolulu", "08:00", "21:00"),
    ("ZH-EARLY-1", "Asia/Shanghai", "08:00", "22:00"),
    ("ZH-EARLY-1", "Asia/Urumqi", "08:00", "22:00"),
])
def test_window_start_and_end_in_the_debtors_zone(accounts, base, zone, start, end):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    account = acct(accounts, base, timezone=zone)
    day = datetime(2026, 11, 24, tzinfo=tz)   # a Tuesday, no holiday in either profile
    opens = day.replace(hour=int(start[:2]))
    closes = day.replace(hour=int(end[:2]))
    before = may_call(account, [], opens - S)
    assert (before.allowed, before.rule, before.next_allowed_at) == (False, "calling_window", opens.astimezone(UTC))
    assert may_call(account, [], opens).allowed
    assert may_call(account, [], closes - S).allowed
    after = may_call(account, [], closes)
    assert (after.allowed, after.rule) == (False, "calling_window")
    assert after.next_allowed_at == (opens + timedelta(days=1)).astimezone(UTC)
    assert zone in after.reason


def test_window_across_daylight_saving_changes(accounts):
    la = acct(accounts, "EN-EARLY-1", timezone="America/Los_Angeles")
    # Spring forward (2026-03-08): 08:00 is PDT (15:00 UTC), the evening before was PST.
    d = may_call(la, [], at("2026-03-07T21:30:00-08:00"))
    assert (d.rule, d.next_allowed_at) == ("calling_window", at("2026-03-08T15:00:00+00:00"))
    assert not may_call(la, [], at("2026-03-08T14:59:59+00:00")).allowed
    assert may_call(la, [], at("2026-03-08T15:00:00+00:00")).allowed
    # 20:59 PDT is still inside, 21:00 PDT (04:00 UTC) is not.
    assert may_call(la, [], at("2026-03-09T03:59:00+00:00")).allowed
    assert not may_call(la, [], at("2026-03-09T04:00:00+00:00")).allowed
    # Fall back (2026-11-01): 08:00 is PST again (16:00 UTC); 15:30 UTC is 07:30 PST.
    d = may_call(la, [], at("2026-11-01T15:30:00+00:00"))
    assert (d.allowed, d.next_allowed_at) == (False, at("2026-11-01T16:00:00+00:00"))


def test_seven_attempts_in_seven_days(accounts):
    ny = acct(accounts, "EN-LATE-1", timezone="America/New_York")
    first = at("2026-11-16T10:00:00-05:00")
    history = [Attempt(first + timedelta(days=i)) for i in range(7)]   # Mon..Sun, none connected
    probe = first + timedelta(days=6, hours=2)
    blocked = may_call(ny, history, probe)
    assert (blocked.rule, blocked.next_allowed_at) == ("per_debt_in_days", first + timedelta(days=7))
    assert "7 attempts" in blocked.reason
    assert not may_call(ny, history, first + timedelta(days=7) - S).allowed
    assert may_call(ny, history, first + timedelta(days=7)).allowed   # the oldest left the window
    assert may_call(ny, history[:6], probe).allowed                    # six is fine


def test_seven_days_after_a_conversation(accounts):
    chicago = acct(accounts, "EN-MID-1", timezone="America/Chicago")
    talk = at("2026-11-16T10:00:00-06:00")
    history = [Attempt(talk, connected=True, conversation=True)]
    d = may_call(chicago, history, talk + timedelta(days=1))
    assert (d.rule, d.next_allowed_at) == ("quiet_days_after_conversation", talk + timedelta(days=7))
    assert not may_call(chicago, history, talk + timedelta(days=7) - S).allowed
    assert may_call(chicago, history, talk + timedelta(days=7)).allowed
    # Someone answered but it was not the debtor: not a conversation about the debt.
    assert may_call(chicago, [Attempt(talk, connected=True)], talk + timedelta(days=1)).allowed


def test_a_quiet_period_ending_on_a_holiday_frees_at_the_next_window(accounts):
    chicago = acct(accounts, "EN-MID-1", timezone="America/Chicago")
    talk = at("2026-11-19T10:00:00-06:00")   # +7 days is Thanksgiving morning
    d = may_call(chicago, [Attempt(talk, True, True)], talk + timedelta(days=2))
    assert (d.rule, d.next_allowed_at) == ("quiet_days_after_conversation", at("2026-11-27T08:00:00-06:00"))


def test_cn_daily_caps(accounts):
    zh = acct(accounts, "ZH-EARLY-1", timezone="Asia/Shanghai")
    morning = at("2026-11-24T09:00:00+08:00")
    probe = at("2026-11-24T15:00:00+08:00")
    connected = [Attempt(morning + timedelta(hours=i), connected=True) for i in range(3)]
    d = may_call(zh, connected, probe)
    assert (d.rule, d.next_allowed_at) == ("connected_per_day", at("2026-11-25T08:00:00+08:00"))
    assert may_call(zh, connected[:2], probe).allowed
    missed = [Attempt(morning + timedelta(minutes=20 * i), number=zh.phone) for i in range(6)]
    d = may_call(zh, missed + connected[:2], probe)
    assert (d.rule, d.next_allowed_at) == ("unanswered_per_day", at("2026-11-25T08:00:00+08:00"))
    assert may_call(zh, missed[:5] + connected[:2], probe).allowed
    # Unanswered attempts on another number do not count against this one.
    other = [Attempt(a.at, number="+8613900000009") for a in missed]
    assert may_call(zh, other, probe).allowed
    # Yesterday's calls do not count today (local day, not the UTC one: 23:30 local is 15:30 UTC).
    late_yesterday = [Attempt(at("2026-11-23T23:30:00+08:00") - timedelta(minutes=i), connected=True) for i in range(3)]
    assert may_call(zh, late_yesterday, probe).allowed
    assert not may_call(zh, late_yesterday, at("2026-11-23T21:59:00+08:00") + timedelta(hours=1, minutes=40)).allowed


def test_holidays_listed_in_the_profile(accounts):
    zh = acct(accounts, "ZH-EARLY-1", timezone="Asia/Shanghai")
    d = may_call(zh, [], at("2026-10-03T10:00:00+08:00"))
    assert (d.rule, d.next_allowed_at) == ("holidays", at("2026-10-08T08:00:00+08:00"))   # National Day week
    assert may_call(zh, [], at("2026-10-08T08:00:00+08:00")).allowed
    ny = acct(accounts, "EN-LATE-1", timezone="America/New_York")
    d = may_call(ny, [], at("2026-11-26T12:00:00-05:00"))   # Thanksgiving
    assert (d.rule, d.next_allowed_at) == ("holidays", at("2026-11-27T08:00:00-05:00"))
    # The holiday is the debtor's local date: 23:30 on Wednesday in New York is already Thursday in UTC.
    assert may_call(ny, [], at("2026-11-25T20:30:00-05:00")).allowed


def test_phone_region_fallback(accounts):
    assert region_of("+1 (212) 555-0103") == ("us", ("America/New_York",))
    assert region_of("+8613800000001") == ("cn", ("Asia/Shanghai",))
    assert region_of("+99912345") == (None, ())
    ny = acct(accounts, "EN-LATE-1", timezone=None, jurisdiction=None, phone="+12125550103")
    d = may_call(ny, [], at("2026-11-24T07:30:00-05:00"))
    assert (d.jurisdiction, d.zones, d.next_allowed_at) == ("us", ("America/New_York",), at("2026-11-24T08:00:00-05:00"))
    # An unknown area code could be anywhere in the US: only call when it is 08:00-21:00 in all
    # zones, i.e. from 08:00 in Honolulu (18:00 UTC) to 21:00 in New York (02:00 UTC).
    anywhere = acct(accounts, "EN-LATE-1", timezone=None, phone="+15555550103")
    d = may_call(anywhere, [], at("2026-11-24T13:00:00+00:00"))
    assert (d.allowed, d.next_allowed_at) == (False, at("2026-11-24T18:00:00+00:00"))
    assert len(d.zones) > 3
    assert may_call(anywhere, [], at("2026-11-24T18:00:00+00:00")).allowed
    assert not may_call(anywhere, [], at("2026-11-25T02:00:00+00:00")).allowed
    cn = acct(accounts, "ZH-EARLY-1", timezone=None, jurisdiction=None)
    assert may_call(cn, [], at("2026-11-24T10:00:00+08:00")).jurisdiction == "cn"


def test_unknown_place_or_opt_out_is_never_callable(accounts, tmp_path: Path):
    # A profile that names no zones of its own: nothing says where the debtor is, so no call.
    (tmp_path / "xx.yaml").write_text("title: X\ncalling_window: {start: '08:00', end: '21:00'}\nvoicemail: hang_up\n")
    lost = acct(accounts, "EN-LATE-1", timezone=None, jurisdiction="xx", phone="+99912345")
    d = may_call(lost, [], at("2026-11-24T12:00:00+00:00"), profile=load_profile("xx", tmp_path))
    assert (d.allowed, d.rule, d.next_allowed_at) == (False, "timezone", None)
    assert "no time zone" in d.reason
    # A `us` debtor whose number says nothing is somewhere in the US: every US zone's window.
    somewhere = acct(accounts, "EN-LATE-1", timezone=None, jurisdiction="us", phone="+99912345")
    d = may_call(somewhere, [], at("2026-11-24T12:00:00+00:00"))
    assert (d.rule, d.next_allowed_at, len(d.zones)) == ("calling_window", at("2026-11-24T18:00:00+00:00"), 7)
    nowhere = acct(accounts, "EN-LATE-1", jurisdiction=None, phone=None)
    assert may_call(nowhere, [], at("2026-11-24T17:00:00+00:00")).rule == "jurisdiction"
    stopped = may_call(accounts["EN-LATE-1"], [], at("2026-11-24T17:00:00+00:00"), opted_out=True)
    assert (stopped.rule, stopped.next_allowed_at) == ("opt_out", None)
    with pytest.raises(ValueError, match="no time zone"):
        may_call(accounts["EN-LATE-1"], [], datetime(2026, 11, 24, 12))

"""One resolver for the debtor's clock: the legal rules, the campaign scheduler and SMS read the
same zones (the account's, else its phone number's, else the jurisdiction's) and the same
calling window; several candidate zones mean every one must agree; none means no contact.

Before: campaigns and SMS took UTC for an account without a time zone while the law used the
phone's region, so a Chicago debtor's callback was booked for 02:00 and a Seattle debtor's
text went out at 01:00."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from dialogue.accounts import Account
from dialogue.compliance import load_profile, may_call
from telephony.campaign import CampaignConfig, CampaignWorker, InMemoryStore, ManualClock, PreparedDialer
from telephony.campaign.dialer import CallAnswer
from telephony.campaign.schedule import contact_gate
from telephony.sms import InMemorySmsStore, MemoryOutbox, SmsConfig, SmsTriggers

UTC = timezone.utc
CONFIRMED = {"outcome": "refused", "tags": ["outcome:refused", "identity_confirmed"]}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def zoneless(accounts: dict[str, Account], base: str, **changes) -> Account:
    return accounts[base].model_copy(update={"timezone": None, **changes})


def sms_for(now: str, config: SmsConfig | None = None) -> SmsTriggers:
    return SmsTriggers(InMemorySmsStore(), MemoryOutbox(), InMemoryStore(), ManualClock(at(now)), config)


def test_rules_campaign_and_sms_read_the_phones_zone_for_an_account_without_one(accounts):
    from dialogue.compliance import debtor_time

    chicago = zoneless(accounts, "EN-MID-1")   # +1 312: Chicago
    clock = debtor_time(chicago)
    assert (clock.keys, clock.source, str(clock.legal_window)) == (("America/Chicago",), "phone", "08:00-21:00")
    early = at("2026-11-24T07:30:00-06:00")
    assert may_call(chicago, [], early).next_allowed_at == at("2026-11-24T08:00:00-06:00")
    gate = contact_gate(CampaignConfig(), clock, early, [])
    assert (gate.allowed, gate.next_at) == (False, at("2026-11-24T08:00:00-06:00"))
    # Hour by hour over a day the law's window and the scheduler's agree.
    law = load_profile("us").calling_window
    for hour in range(24):
        instant = at("2026-11-24T00:00:00+00:00") + timedelta(hours=hour)
        assert clock.inside([law], instant) == (may_call(chicago, [], instant).rule != "calling_window")


def test_a_campaign_books_a_callback_at_the_debtors_morning_not_utcs(accounts):
    chicago = zoneless(accounts, "EN-MID-1", id="CB")
    callback = CallAnswer("answered", {"outcome": "callback", "details": {"callback_time": "2026-11-25"}})
    store = InMemoryStore()
    worker = CampaignWorker(store, PreparedDialer(answers={"CB": [callback]}), "cb",
                            clock=ManualClock(at("2026-11-23T10:00:00-06:00")))
    asyncio.run(worker.run([chicago]))
    state = store.state("cb", "CB")
    assert (state.waiting_for, state.next_at) == ("callback", at("2026-11-25T08:00:00-06:00"))


def test_sms_waits_for_the_debtors_own_send_window(accounts):
    seattle = zoneless(accounts, "EN-EARLY-1")   # +1 206: Los Angeles time
    sms = sms_for("2026-11-23T12:00:00-08:00")
    bill = next(p for p in sms.after_call(seattle, CONFIRMED) if p.trigger == "after_call_no_payment")
    assert (bill.due_at, bill.held) == (at("2026-11-23T15:00:00-08:00"), "window")
    (sent,) = sms.send_due(at("2026-11-23T15:00:00-08:00"))
    assert (sent.local_time, sent.timezone) == ("2026-11-23T15:00:00-08:00", "America/Los_Angeles")


def test_sms_send_windows_are_cut_to_the_law(accounts):
    la = accounts["EN-EARLY-1"]
    sms = sms_for("2026-11-23T06:30:00-08:00", SmsConfig(send_windows="07:00-09:00"))
    bill = next(p for p in sms.after_call(la, CONFIRMED) if p.trigger == "after_call_no_payment")
    assert bill.due_at == at("2026-11-23T08:00:00-08:00"), "Reg F: no contact before 08:00, texts included"


def test_nothing_known_means_no_contact_never_utc(accounts):
    nowhere = zoneless(accounts, "EN-EARLY-1", id="NOWHERE", phone=None, jurisdiction=None)
    assert sms_for("2026-11-23T16:00:00+00:00").after_call(nowhere, CONFIRMED) == []
    store, dialer = InMemoryStore(), PreparedDialer(default="answered:promise_to_pay")
    asyncio.run(CampaignWorker(store, dialer, "n", clock=ManualClock(at("2026-11-23T16:00:00+00:00"))).run([nowhere]))
    assert dialer.placed == [] and store.state("n", "NOWHERE").final == "not_callable"
    from dialogue.compliance import debtor_time

    clock = debtor_time(nowhere)
    assert (clock.known, clock.source) == (False, "unknown")
    assert "no time zone" in clock.problem


def test_a_number_that_only_says_us_gets_every_us_zone_and_the_narrowest_window(accounts):
    toll_free = zoneless(accounts, "EN-LATE-1", phone="+18005550100")
    # 08:00-21:00 everywhere from Honolulu to New York: 18:00-02:00 UTC in November.
    assert may_call(toll_free, [], at("2026-11-24T17:00:00+00:00")).next_allowed_at == at("2026-11-24T18:00:00+00:00")
    # No 09-11 / 15-17 send window is open in all seven zones at once: no text at a guess.
    assert sms_for("2026-11-24T17:00:00+00:00").after_call(toll_free, CONFIRMED) == []
    from dialogue.compliance import debtor_time

    clock = debtor_time(toll_free)
    assert (clock.source, len(clock.zones)) == ("jurisdiction", 7)
    gate = contact_gate(CampaignConfig(), clock, at("2026-11-24T17:00:00+00:00"), [])
    assert gate.next_at == at("2026-11-24T18:00:00+00:00")

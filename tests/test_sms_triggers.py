"""SMS triggers from the seeds: after a first call without payment, 5 and 8 days after the
first reminder while still unpaid; sent only 9-11 and 15-17 local time, at most 3 a week, never
to an opted-out account; rendered from each locale's sms.yaml.  State on a real Redis (the
`redis_url` fixture) unless a test says otherwise.

The call summaries here are what a finished call hands over (outcome, tags); the campaign test
at the end produces one through a worker, with PreparedDialer standing in for the audio call
whose path is tested in test_campaign.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone

import pytest

from telephony.campaign import CampaignWorker, ManualClock, PreparedDialer, RedisStore, connect
from telephony.sms import (
    AFTER_CALL, EIGHT_DAYS, FIVE_DAYS, FileOutbox, InMemorySmsStore, MemoryOutbox, RedisSmsStore,
    RedisStreamOutbox, SmsConfig, SmsTriggers,
)
from telephony.campaign.memory_store import InMemoryStore

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def summary(outcome: str, confirmed: bool = True) -> dict:
    return {"outcome": outcome, "tags": [f"outcome:{outcome}",
                                         "identity_confirmed" if confirmed else "identity_unconfirmed"]}


@pytest.fixture
def prefix(redis_prefix):
    return redis_prefix


@pytest.fixture
def bus(redis_url, prefix, tmp_path):
    """Redis stores, a file outbox and a clock at Monday 12:00 in Los Angeles."""
    client = connect(redis_url)
    flags = RedisStore(client, prefix)
    clock = ManualClock(at("2026-11-23T12:00:00-08:00"))
    outbox = FileOutbox(tmp_path / "outbox.jsonl")
    sms = SmsTriggers(RedisSmsStore(client, prefix), outbox, flags, clock)
    return sms, flags, clock, outbox


def test_after_a_first_call_without_payment_the_bill_goes_out_in_the_next_window(accounts, bus):
    sms, _, clock, outbox = bus
    john = accounts["EN-EARLY-1"]  # Los Angeles, early stage, 2 days overdue
    planned = sms.after_call(john, summary("refused"))
    assert {p.trigger for p in planned} == {AFTER_CALL, FIVE_DAYS, EIGHT_DAYS}
    bill = next(p for p in planned if p.trigger == AFTER_CALL)
    # Called at 12:00 local: outside 9-11 and 15-17, so the message waits for 15:00.
    assert (bill.due_at, bill.held) == (at("2026-11-23T15:00:00-08:00"), "window")
    assert sms.send_due() == []
    clock.set(at("2026-11-23T14:59:00-08:00"))
    assert sms.send_due() == []
    clock.set(at("2026-11-23T15:00:00-08:00"))
    (sent,) = sms.send_due()
    assert (sent.trigger, sent.stage, sent.template, sent.to) == (AFTER_CALL, "early", "bill_reminder", john.phone)
    # The bill, the minimum payment and how to pay, from scripts/en/sms.yaml.
    assert sent.text == ("Cascade Bank: a payment of $1,250 was due on Saturday, November 21. Minimum payment: "
                         "$125. Pay by the Cascade mobile app, online banking, or a bank transfer. "
                         "Questions: 1-800-555-0199.")
    (line,) = outbox.path.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["account_id"] == "EN-EARLY-1" and record["trigger"] == AFTER_CALL
    assert record["local_time"] == "2026-11-23T15:00:00-08:00" and record["timezone"] == "America/Los_Angeles"
    assert record["text"] == sent.text
    # A trigger fires once: a second call without payment does not send the bill again.
    assert sms.after_call(john, summary("refused")) == []


def test_five_and_eight_days_after_the_first_reminder_while_unpaid(accounts, bus):
    sms, flags, clock, outbox = bus
    maria = accounts["EN-MID-1"]  # Chicago, 4 days overdue at the call
    clock.set(at("2026-11-23T10:00:00-06:00"))
    sms.after_call(maria, summary("promise_to_pay"))  # a promise is not a payment
    assert [p.trigger for p in sms.store.pending()] == [FIVE_DAYS, EIGHT_DAYS], "no bill after a promise"
    clock.set(at("2026-11-27T10:30:00-06:00"))
    assert sms.send_due() == [], "4 days: too early"
    clock.set(at("2026-11-28T10:00:00-06:00"))
    (five,) = sms.send_due()
    # 4 + 5 = 9 days overdue: the late stage's suspension notice (card, credit record).
    assert (five.trigger, five.stage, five.template) == (FIVE_DAYS, "late", "suspension_notice")
    assert "keep your card active" in five.text and "credit record" in five.text
    clock.set(at("2026-12-01T10:00:00-06:00"))
    (eight,) = sms.send_due()
    assert (eight.trigger, eight.template) == (EIGHT_DAYS, "legal_notice")
    assert "unpaid after 12 days" in eight.text and "card agreement" in eight.text
    assert [m.trigger for m in outbox.read()] == [FIVE_DAYS, EIGHT_DAYS]


def test_a_payment_cancels_the_reminders(accounts, bus):
    sms, flags, clock, _ = bus
    sms.after_call(accounts["EN-EARLY-1"], summary("refused"))
    flags.mark_paid("EN-EARLY-1")
    clock.advance(days=10)
    assert sms.send_due() == []
    assert sms.store.pending() == []
    assert set(sms.store.done().values()) == {f"cancelled:paid {clock.now().isoformat()}"}


def test_never_to_an_opted_out_or_unconfirmed_person(accounts, bus):
    sms, flags, clock, _ = bus
    assert sms.after_call(accounts["EN-EARLY-1"], summary("opted_out")) == []
    assert sms.after_call(accounts["EN-MID-1"], summary("wrong_party", confirmed=False)) == []
    assert sms.after_call(accounts["EN-LATE-1"], summary("refused", confirmed=False)) == [], \
        "a reminder names the debt: only for a confirmed debtor"
    # Opted out after the message was planned: it is cancelled, not sent.
    sms.after_call(accounts["ZH-EARLY-1"], summary("refused"))
    flags.opt_out("ZH-EARLY-1", clock.now(), "letter")
    clock.advance(days=9)
    assert sms.send_due() == []
    assert all(v.startswith("cancelled:opted_out") for v in sms.store.done().values())


def test_weekly_cap_holds_the_fourth_message(accounts, bus):
    sms, _, clock, _ = bus
    john = accounts["EN-EARLY-1"]
    # Three SMS already went to John this week (Tuesday, Thursday, Saturday at 09:30 local).
    for day in ("2026-11-17", "2026-11-19", "2026-11-21"):
        assert sms.store.reserve_send(john.id, f"earlier-{day}", at(f"{day}T09:30:00-08:00"), 3) is None
    clock.set(at("2026-11-23T09:10:00-08:00"))
    sms.after_call(john, summary("refused"))
    assert sms.send_due() == [], "3 in the last 7 days: the cap is reached"
    (held,) = [p for p in sms.store.pending() if p.trigger == AFTER_CALL]
    # Tuesday's message turns 7 days old on Tuesday 24th at 09:30, inside the 9-11 window.
    assert (held.held, held.due_at) == ("weekly_cap", at("2026-11-24T09:30:00-08:00"))
    clock.set(held.due_at)
    (sent,) = sms.send_due()
    assert sent.trigger == AFTER_CALL


def test_two_senders_on_one_redis_send_each_message_once(accounts, redis_url, prefix, tmp_path):
    client = connect(redis_url)
    flags = RedisStore(client, prefix)
    clock = ManualClock(at("2026-11-23T09:30:00+08:00"))  # Shanghai morning window
    outbox = RedisStreamOutbox(client, f"{prefix}:sms:outbox")
    senders = [SmsTriggers(RedisSmsStore(client, prefix), outbox, flags, clock) for _ in range(2)]
    for account_id in ("ZH-EARLY-1", "ZH-MID-1", "ZH-LATE-1"):
        senders[0].after_call(accounts[account_id], summary("refused"))
    sent = senders[0].send_due() + senders[1].send_due()
    assert sorted(m.account_id for m in sent) == ["ZH-EARLY-1", "ZH-LATE-1", "ZH-MID-1"]
    stream = outbox.read()
    assert len(stream) == 3
    early = next(m for m in stream if m.account_id == "ZH-EARLY-1")
    assert early.text.startswith("【北辰银行】") and "最低还款额" in early.text and "手机银行" in early.text
    assert early.local_time == "2026-11-23T09:30:00+08:00"


def test_send_windows_are_configurable_and_memory_store_works(accounts):
    clock = ManualClock(at("2026-11-23T12:00:00-05:00"))
    outbox = MemoryOutbox()
    sms = SmsTriggers(InMemorySmsStore(), outbox, InMemoryStore(), clock,
                      SmsConfig(send_windows="12:30-13:00", max_per_week=2))
    (bill, *_rest) = sms.after_call(accounts["EN-LATE-1"], summary("refused"))
    assert bill.due_at == at("2026-11-23T12:30:00-05:00")
    clock.set(at("2026-11-23T13:00:00-05:00"))
    assert sms.send_due() == [], "13:00 is the window's end"
    (held,) = [p for p in sms.store.pending() if p.trigger == AFTER_CALL]
    assert held.due_at == at("2026-11-24T12:30:00-05:00")


def test_a_campaign_call_without_payment_triggers_the_sms(accounts, redis_url, prefix, tmp_path):
    """End to end through a worker: Monday 12:00 in New York the debtor refuses; the bill waits
    for 15:00 and goes out while the worker follows the campaign to its deadline."""
    client = connect(redis_url)
    store = RedisStore(client, prefix)
    clock = ManualClock(at("2026-11-23T12:00:00-05:00"))
    outbox = FileOutbox(tmp_path / "outbox.jsonl")
    sms = SmsTriggers(RedisSmsStore(client, prefix), outbox, store, clock)
    worker = CampaignWorker(store, PreparedDialer({"EN-LATE-1": ["answered:refused"]}), "with-sms",
                            clock=clock, sms=sms)
    asyncio.run(worker.run([accounts["EN-LATE-1"]], follow=True, until=at("2026-11-23T18:00:00-05:00")))
    (message,) = outbox.read()
    assert (message.trigger, message.template, message.stage) == (AFTER_CALL, "bill_reminder", "late")
    assert message.local_time == "2026-11-23T15:00:00-05:00"
    assert [p.trigger for p in sms.store.pending()] == [FIVE_DAYS, EIGHT_DAYS]

"""One contact history (issue 21): every source's attempts in the records store's
`vb_contact_attempts`, on real SQLite files (and the local PostgreSQL), and the rules asked
with all of them: the campaign worker's dials (PreparedDialer stands in for the audio call,
whose path test_campaign.py covers), texts sent by the real SMS triggers, the server gate's
starts (CallStartGate, the code `voicebot serve` runs; over a real socket in
test_contact_history_server.py), calls in, and `voicebot compliance check`."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from conftest import SAMPLE_ACCOUNTS
from dialogue.compliance.rules import Attempt, may_call
from postgres_schema import own_schema
from telephony.campaign import CampaignConfig, CampaignWorker, ManualClock, PreparedDialer
from telephony.campaign.memory_store import InMemoryStore
from telephony.compliance_gate import AUDIT_FILE, FORBIDDEN, AuditLog
from telephony.contact_history import NOT_PLACED, ContactAttempt, HistoryUnavailable
from telephony.sms import InMemorySmsStore, MemoryOutbox, SmsTriggers
from voicebot.records.contact_history import StoredContactHistory
from voicebot.records.store import RecordStore
from voicebot.server import ServerSettings
from voicebot.server.compliance_gate import CallStartGate
from voicebot.server.errors import StreamError

MONDAY = date(2026, 11, 23)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def store(tmp_path):
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    yield store
    store.close()


def dial(account, when: datetime, source: str = "server", **kw) -> ContactAttempt:
    return ContactAttempt(account.id, account.phone, "call", kw.pop("direction", "outbound"), source, when, **kw)


def gate(tmp_path, store, call_date: date = MONDAY) -> CallStartGate:
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=tmp_path, tokens=["t"], call_date=call_date,
                              contact_history=True)
    return CallStartGate(settings, StoredContactHistory(store))


OUTBOUND = SimpleNamespace(call_id="CA1", extra={})
INBOUND = SimpleNamespace(call_id="CA2", direction="inbound", extra={})


def test_the_rules_count_outbound_calls_and_any_conversation(accounts):
    """Reg F counts the calls the collector places: a call in or a text is no attempt (unless
    a profile counts texts), but a conversation on a call in starts the quiet week."""
    john, now = accounts["EN-MID-1"], at("2026-11-23T12:00:00-06:00")
    dials = [Attempt(now - timedelta(days=1, hours=i)) for i in range(6)]
    other = [Attempt(now - timedelta(hours=2), channel="sms"), Attempt(now - timedelta(hours=3), direction="inbound")]
    assert may_call(john, dials + other, now).allowed
    assert may_call(john, dials + [Attempt(now - timedelta(hours=1))], now).rule == "per_debt_in_days"
    talk = Attempt(now - timedelta(days=2), connected=True, conversation=True, direction="inbound")
    refused = may_call(john, [talk], now)
    assert (refused.rule, refused.next_allowed_at) == ("quiet_days_after_conversation", talk.at + timedelta(days=7))


def test_a_checked_start_records_only_what_the_rules_allow(accounts, store):
    john, history = accounts["EN-MID-1"], StoredContactHistory(store)
    now = at("2026-11-23T12:00:00-06:00")
    for day in range(7):
        started = history.start(dial(john, now - timedelta(days=6, hours=-day)),
                                lambda past: may_call(john, past, now))
        assert started.decision.allowed and started.attempt_id
    eighth = history.start(dial(john, now), lambda past: may_call(john, past, now))
    assert (eighth.decision.rule, eighth.attempt_id) == ("per_debt_in_days", None)
    assert len(history.rows_since(john.id, now - timedelta(days=30))) == 7  # the refused one left no row


def test_a_campaign_dial_under_way_is_taken_over_not_counted_twice(accounts, store):
    """The campaign placed a call through a carrier; the server asked to start it finds that
    dial still open and takes it over: the 7th dial of the week is allowed once, not refused
    as an 8th.  A dial that never went out (NOT_PLACED) counts for nothing."""
    john, history = accounts["EN-MID-1"], StoredContactHistory(store)
    now = at("2026-11-23T12:00:00-06:00")
    for day in range(6):
        history.record(dial(john, now - timedelta(days=6 - day), "campaign", outcome="no_answer"))
    lost = history.record(dial(john, now - timedelta(minutes=30), "campaign"))
    history.finish(lost, outcome=NOT_PLACED, connected=False, conversation=False)
    open_dial = history.record(dial(john, now - timedelta(seconds=20), "campaign", call_id="c-1"))
    store.flush()
    taken = history.start(dial(john, now), lambda past: may_call(john, past, now), adopt_within=timedelta(minutes=10))
    assert (taken.decision.allowed, taken.attempt_id, taken.adopted) == (True, open_dial, True)
    history.finish(open_dial, outcome="refused", connected=True, conversation=False, call_id="session-1")
    store.flush()
    rows = history.rows_since(john.id, now - timedelta(days=30))
    assert len(rows) == 8 and [r.call_id for r in rows if r.id == open_dial] == ["session-1"]
    assert len(history.attempts_since(john.id, now - timedelta(days=30))) == 7
    again = history.start(dial(john, now + timedelta(minutes=5)), lambda past: may_call(john, past, now),
                          adopt_within=timedelta(minutes=10))
    assert again.decision.rule == "per_debt_in_days"  # the taken-over dial is finished: no second take-over


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_starts_at_once_cannot_both_take_the_last_slot(accounts, tmp_path, backend):
    """Six dials this week; eight call starts for the debtor at the same moment, on eight
    threads with their own connections (as replicas would): exactly one is allowed."""
    john, now = accounts["EN-MID-1"], at("2026-11-23T12:00:00-06:00")

    def race(store: RecordStore) -> list[bool]:
        history = StoredContactHistory(store)
        for day in range(6):
            history.record(dial(john, now - timedelta(days=6 - day), "campaign", outcome="no_answer"))
        store.flush()
        barrier, results = threading.Barrier(8), []

        def one() -> None:
            barrier.wait()
            results.append(history.start(dial(john, now), lambda past: may_call(john, past, now)).decision.allowed)
        threads = [threading.Thread(target=one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return results

    if backend == "sqlite":
        store = RecordStore(f"sqlite:///{tmp_path / 'race.db'}")
        assert sorted(race(store)) == [False] * 7 + [True]
        store.close()
        return
    with own_schema() as pg:
        store = RecordStore(pg.url, schema=pg.schema)
        assert sorted(race(store)) == [False] * 7 + [True]
        store.close()


def test_the_worker_judges_with_every_source_and_records_its_dials(accounts, store):
    """A debtor called four times by the server this week: the campaign's dials stop after
    three more (7-in-7), the block is the jurisdiction's rule, and its dials are in the history."""
    john, history = accounts["EN-MID-1"], StoredContactHistory(store)
    clock = ManualClock(at("2026-11-19T10:00:00-06:00"))
    for hours in range(4):
        history.record(dial(john, clock.now() - timedelta(days=1, hours=hours), outcome="refused", connected=True))
    store.flush()
    dialer = PreparedDialer(default="no_answer")
    config = CampaignConfig(retry_delays="1d", max_calls_per_week=20, max_attempts=20)
    worker = CampaignWorker(InMemoryStore(), dialer, "spring", config=config, clock=clock, worker_id="w",
                            history=history)
    asyncio.run(worker.run([john], follow=True, until=at("2026-11-24T23:00:00-06:00")))
    assert len(dialer.placed) == 3
    store.flush()  # outcomes go through the store's writer
    rows = history.rows_since(john.id, at("2026-11-01T00:00:00Z"))
    assert [(r.source, r.outcome, r.connected) for r in rows if r.source == "campaign"] == [
        ("campaign", "no_answer", False)] * 3
    (blocked,) = worker.store.blocked("spring")
    assert blocked["rule"] == "us:per_debt_in_days"


def test_texts_sent_are_in_the_history(accounts, store):
    john, history = accounts["EN-EARLY-1"], StoredContactHistory(store)  # Los Angeles
    clock = ManualClock(at("2026-11-23T12:00:00-08:00"))
    outbox, flags = MemoryOutbox(), InMemoryStore()
    sms = SmsTriggers(InMemorySmsStore(), outbox, flags, clock, history=history)
    sms.after_call(john, {"outcome": "refused", "tags": ["identity_confirmed"]})
    clock.advance(hours=3)  # 15:00: the afternoon window
    (sent,) = sms.send_due()
    store.flush()
    (row,) = history.rows_since(john.id, at("2026-11-01T00:00:00Z"))
    assert (row.channel, row.direction, row.source, row.call_id, row.outcome, row.phone) == (
        "sms", "outbound", "sms", sent.id, "sent", john.phone)


def test_the_server_gate_lets_a_call_in_through_and_its_conversation_counts(accounts, store, tmp_path):
    """A debtor calling back at 22:30 (outside the window for calls to them) is not refused;
    the call is recorded inbound, and its conversation holds outbound calls for a week."""
    john = accounts["EN-MID-1"]
    night = at("2026-11-23T22:30:00-06:00")
    late = gate(tmp_path, store)
    inbound_id = asyncio.run(late.admit(john, INBOUND, at=night))
    late.finish(inbound_id, {"outcome": "promise_to_pay", "tags": ["identity_confirmed"], "call_id": "s-9"})
    store.flush()
    with pytest.raises(StreamError) as refused:  # outbound at the same hour: the window
        asyncio.run(late.admit(john, OUTBOUND, at=night))
    assert "us:calling_window" in refused.value.reason
    with pytest.raises(StreamError) as quiet:  # two days later at noon: the quiet week
        asyncio.run(late.admit(john, OUTBOUND, at=night + timedelta(days=2, hours=-10)))
    assert quiet.value.code == FORBIDDEN and "us:quiet_days_after_conversation" in quiet.value.reason
    (row,) = StoredContactHistory(store).rows_since(john.id, night - timedelta(days=1))
    assert (row.direction, row.source, row.conversation, row.call_id) == ("inbound", "inbound", True, "s-9")
    assert [e["rule"] for e in AuditLog(tmp_path / AUDIT_FILE).read()] == [
        "us:calling_window", "us:quiet_days_after_conversation"]


def test_a_start_does_not_hang_on_a_locked_database_it_fails_closed(accounts, store, tmp_path):
    """Another connection holds SQLite's write lock: the start is refused (1013) within the
    timeout, says why in the audit log, and records nothing once the lock goes."""
    from sqlalchemy import create_engine

    john = accounts["EN-MID-1"]
    quick = gate(tmp_path, store)
    quick.timeout_s = 0.5
    blocker = create_engine(store.url).connect()
    blocker.exec_driver_sql("BEGIN EXCLUSIVE")
    try:
        loop_started = datetime.now(UTC)
        with pytest.raises(StreamError) as refused:
            asyncio.run(quick.admit(john, OUTBOUND))
        waited = (datetime.now(UTC) - loop_started).total_seconds()
    finally:
        blocker.rollback()
        blocker.close()
    assert refused.value.code == 1013 and "contact history unavailable" in refused.value.reason
    assert waited < 2.0
    (entry,) = AuditLog(tmp_path / AUDIT_FILE).read()
    assert entry["rule"] == "server:contact_history_unavailable" and entry["account"] == john.id
    assert StoredContactHistory(store).rows_since(john.id, at("2026-11-01T00:00:00Z")) == []


def test_history_unavailable_is_raised_not_swallowed(accounts, tmp_path):
    store = RecordStore(f"sqlite:///{tmp_path / 'gone.db'}")
    history = StoredContactHistory(store)
    store.engine.dispose()
    (tmp_path / "gone.db").unlink()
    (tmp_path / "gone.db").mkdir()  # the database file is now a folder: unreadable
    with pytest.raises(HistoryUnavailable, match="contact history in records store"):
        history.attempts_since("X", at("2026-11-01T00:00:00Z"))
    store.close()


def test_compliance_check_reads_the_same_history(accounts, store, tmp_path):
    from typer.testing import CliRunner

    from voicebot.cli import app

    john, history = accounts["EN-MID-1"], StoredContactHistory(store)
    now = at("2026-11-23T12:00:00-06:00")
    for day in range(4):
        history.record(dial(john, now - timedelta(days=day + 1), "campaign", outcome="no_answer"))
    for hours in range(3):
        history.record(dial(john, now - timedelta(hours=hours + 1), outcome="refused", connected=True))
    store.flush()
    result = CliRunner().invoke(app, ["compliance", "check", str(SAMPLE_ACCOUNTS), "--at", now.isoformat(),
                                      "--database", store.url, "--json"])
    assert result.exit_code == 0, result.output
    decisions = {d["account"]: d for d in map(json.loads, result.output.splitlines())}
    assert decisions["EN-MID-1"]["rule"] == "per_debt_in_days"
    assert decisions["EN-LATE-1"]["allowed"]


def test_a_purge_keeps_what_the_rules_count_and_an_erasure_clears_the_numbers(accounts, store, tmp_path):
    """Retention: attempts older than the cut-off and the rules' look-back go; an erasure
    keeps the attempts (the caps count them) but not their phone numbers."""
    from voicebot.records.retention import erase_account, purge_records

    john, history = accounts["EN-MID-1"], StoredContactHistory(store)
    now = datetime.now(UTC)
    for days in (400, 20, 1):
        history.record(dial(john, now - timedelta(days=days), outcome="no_answer"))
    store.flush()
    folder = tmp_path / "calls"
    folder.mkdir()
    purged = asyncio.run(purge_records(store, folder, None, cutoff=now - timedelta(days=3)))
    assert purged.contact_attempts == 1  # the 20-day-old one stays: within the 35-day look-back
    erased = asyncio.run(erase_account(store, folder, None, john.id))
    assert erased.contact_attempts == 2
    rows = history.rows_since(john.id, now - timedelta(days=500))
    assert [(r.phone, r.account_id) for r in rows] == [(None, john.id)] * 2
    assert len(history.attempts_since(john.id, now - timedelta(days=30))) == 2

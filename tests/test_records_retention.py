"""Retention and erasure of personal data: real calls (the shipped scripts, real sessions)
written by the call recorder into a records folder and by the records store into SQLite, handoff
packets on the in-process bus and on a real Redis, the campaigns' SMS and accounts (on Redis, or
in their state file), then `voicebot records purge` / `erase`.

Also: a debtor's phone number is written masked wherever it is only a record (the call's JSONL
and summary, the carrier action log, log lines, a refused call's reason), while the carrier
still gets the whole number.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from loguru import logger
from pipecat.processors.frame_processor import FrameDirection
from sqlalchemy import func, select
from typer.testing import CliRunner

from conftest import CALL_DATE
from media_server import free_port
from dialogue.compliance.rules import may_call
from telephony.bus import InProcessBus, RedisBus
from telephony.backend import open_backend
from telephony.campaign import CampaignWorker, ManualClock, PreparedDialer, connect
from telephony.campaign.opt_out_journal import JOURNAL_NAME, OptOutJournal
from telephony.campaign.redis_store import RedisStore
from telephony.handoff import HandoffQueue, PacketState, build_packet, find_transfer
from telephony.handoff.retention import sweep_packets
from telephony.sms import AFTER_CALL, RedisSmsStore, RedisStreamOutbox, SmsTriggers
from voicebot.cli import app
from voicebot.frames import CallActionFrame
from voicebot.providers.local import LocalProvider
from voicebot.recording.call_record import CallRecorder
from voicebot.recording.wav import GrowingWav
from voicebot.records import RecordStore, attach_session
from voicebot.records.models import AuditEntry, Call, Turn
from voicebot.records.retention import CampaignData, cutoff_for, purge_records, retention_days
from voicebot.server.actions import CarrierActions
from voicebot.server.retention_task import purge_while_serving
from voicebot.server.settings import ServerSettings

runner = CliRunner()
OLD_DAYS = 400          # past the default retention of 365 days
PHONE = "+12065550101"  # EN-EARLY-1's number in the sample accounts
MASKED = "+*******0101"


class Records:
    """A records folder with its SQLite store, and real calls made into both."""

    def __init__(self, folder: Path, engines, accounts):
        self.folder, self.engines, self.accounts = folder, engines, accounts
        folder.mkdir(parents=True, exist_ok=True)
        self.url = f"sqlite:///{folder / 'records.db'}"
        self.store = RecordStore(self.url)

    def call(self, account_id: str, lines: list[str], *, days_ago: float = 0, in_db: bool = True) -> str:
        """A call with its JSONL, summary and a short WAV; ended `days_ago` days ago."""
        session = self.engines["en"].start_call(self.accounts[account_id], today=CALL_DATE)
        recorder = CallRecorder(self.folder, session)
        link = attach_session(self.store, session, recording=str(recorder.wav_path)) if in_db else None
        wav = GrowingWav(recorder.wav_path, 8000)
        wav.append_stereo(b"\x01\x00" * 800, b"\x02\x00" * 800)
        wav.close()
        session.open()
        for line in lines:
            session.hear(line)
        recorder.finish()
        if link is not None:
            link.finish()
        if days_ago:
            self.age(session.call_id, days_ago)
        return session.call_id

    def age(self, call_id: str, days_ago: float) -> None:
        """Move a call's start and end, and its files' times, `days_ago` into the past."""
        self.store.flush()
        when = datetime.now(UTC) - timedelta(days=days_ago)

        def write(db) -> None:
            call = db.get(Call, call_id)
            if call is not None:
                call.started_at, call.ended_at = when - timedelta(minutes=3), when
        self.store.write_now(write)
        for path in self.files(call_id):
            os.utime(path, (when.timestamp(), when.timestamp()), follow_symlinks=False)

    def files(self, call_id: str) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.name.startswith(call_id + "."))

    def rows(self, call_id: str) -> tuple[int, int]:
        """(calls, turns) the database holds for a call."""
        self.store.flush()
        with self.store.session() as db:
            return (db.scalar(select(func.count()).select_from(Call).where(Call.id == call_id)),
                    db.scalar(select(func.count()).select_from(Turn).where(Turn.call_id == call_id)))

    def audit(self, action: str) -> list[AuditEntry]:
        self.store.flush()
        with self.store.session() as db:
            return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))

    def cli(self, *args: str):
        self.store.flush()
        result = runner.invoke(app, ["records", *args, "--records", str(self.folder)], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def records(tmp_path, engines, accounts):
    made = Records(tmp_path / "calls", engines, accounts)
    yield made
    made.store.close()


PROMISE = ["yes this is John", "ok I can pay it on Friday", "yes"]
WRONG = ["you have the wrong number"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith("records.db")}


def test_purge_removes_exactly_the_old_calls_and_keeps_recent_ones_and_the_opt_outs(records):
    old = [records.call("EN-EARLY-1", PROMISE, days_ago=OLD_DAYS), records.call("EN-MID-1", WRONG, days_ago=366)]
    recent = [records.call("EN-EARLY-1", PROMISE, days_ago=300), records.call("EN-MID-1", WRONG)]
    # Calls only the folder knows (the database write was lost): judged by their files' times.
    old_files_only = records.call("EN-LATE-1", WRONG, in_db=False, days_ago=OLD_DAYS)
    recent_files_only = records.call("EN-LATE-1", WRONG, in_db=False)
    journal = OptOutJournal(records.folder / JOURNAL_NAME)
    journal.append("EN-MID-1", datetime.now(UTC) - timedelta(days=OLD_DAYS), "campaign:spring", call_id=old[1])
    os.utime(journal.path, (0, 0))  # older than anything: a purge by age must still keep it
    journal_bytes = journal.path.read_bytes()
    turns_before = {c: records.rows(c)[1] for c in old}

    result = records.cli("purge", "--older-than", "365", "--json")

    counts = json.loads(result.output)
    assert counts["calls"] == 2 and counts["turns"] == sum(turns_before.values())
    assert counts["files"] == {"jsonl": 3, "json": 3, "wav": 3, "json.tmp": 0} and counts["files_refused"] == 0
    for call_id in old + [old_files_only]:
        assert records.rows(call_id) == (0, 0) and records.files(call_id) == [], call_id
    for call_id in recent:
        calls, turns = records.rows(call_id)
        assert calls == 1 and turns > 0
        assert [p.suffix for p in records.files(call_id)] == [".json", ".jsonl", ".wav"]
    assert len(records.files(recent_files_only)) == 3
    assert journal.path.read_bytes() == journal_bytes and OptOutJournal(journal.path).get("EN-MID-1")
    (entry,) = records.audit("records_purge")  # audited, with ids and counts only
    assert entry.username.startswith("cli") and entry.detail["calls"] == 2
    assert "Carter" not in json.dumps(entry.detail) and PHONE not in json.dumps(entry.detail)


def test_nothing_of_a_purged_call_is_left_in_the_database_files(records):
    """SQLite keeps deleted rows in free pages and in its write-ahead log: the purge has them
    zeroed and the log emptied, so the bytes on disk no longer hold the debtor's name or number."""
    old = records.call("EN-LATE-1", ["yes this is David", "let me talk to a real person"], days_ago=OLD_DAYS)
    records.call("EN-EARLY-1", PROMISE)

    records.cli("purge")

    assert records.rows(old) == (0, 0)
    # Read while another store still has the database open, as a running server does.
    on_disk = b"".join(p.read_bytes() for p in records.folder.glob("records.db*"))
    assert b"David Kim" not in on_disk and b"12125550103" not in on_disk and old.encode() not in on_disk
    assert b"John Carter" in on_disk  # the recent call is still there


def test_a_dry_run_removes_nothing(records):
    old = records.call("EN-EARLY-1", PROMISE, days_ago=OLD_DAYS)
    recent = records.call("EN-MID-1", WRONG)
    before = _snapshot(records.folder)

    result = records.cli("purge", "--dry-run")  # the default retention, 365 days

    assert "would remove: calls ended before" in result.output and "dry run: nothing was removed" in result.output
    assert "calls (database rows)" in result.output and "recordings (.wav)" in result.output
    assert _snapshot(records.folder) == before
    assert records.rows(old)[0] == 1 and records.rows(recent)[0] == 1
    counted = json.loads(records.cli("purge", "--dry-run", "--json").output)
    assert (counted["calls"], counted["files"]) == (1, {"jsonl": 1, "json": 1, "wav": 1, "json.tmp": 0})
    assert _snapshot(records.folder) == before and records.audit("records_purge") == []
    # The same purge for real takes the old call only.
    assert json.loads(records.cli("purge", "--json").output)["calls"] == 1
    assert records.rows(old) == (0, 0) and records.rows(recent)[0] == 1


def test_erase_removes_one_accounts_calls_whatever_their_age_and_keeps_its_opt_out(records):
    theirs = [records.call("EN-MID-1", WRONG, days_ago=10), records.call("EN-MID-1", WRONG),
              records.call("EN-MID-1", WRONG, in_db=False)]
    others = [records.call("EN-EARLY-1", PROMISE), records.call("EN-LATE-1", WRONG, days_ago=OLD_DAYS)]
    OptOutJournal(records.folder / JOURNAL_NAME).append("EN-MID-1", datetime.now(UTC), "server",
                                                        reason="opted out on a call", call_id=theirs[0])

    result = records.cli("erase", "--account", "EN-MID-1", "--yes")

    assert "removed: account EN-MID-1" in result.output
    assert "kept: the opt-out of EN-MID-1" in result.output and "legal obligation" in result.output
    for call_id in theirs:
        assert records.rows(call_id) == (0, 0) and records.files(call_id) == [], call_id
    for call_id in others:  # another account's calls, even an old one, are not this command's
        assert records.rows(call_id)[0] == 1 and len(records.files(call_id)) == 3
    assert OptOutJournal(records.folder / JOURNAL_NAME).get("EN-MID-1")["call_id"] == theirs[0]
    (entry,) = records.audit("records_erase")
    assert entry.target == "EN-MID-1" and entry.detail["calls"] == 2 and entry.detail["files"]["jsonl"] == 3


def test_erase_asks_first_and_a_no_erases_nothing(records):
    call_id = records.call("EN-MID-1", WRONG)
    result = runner.invoke(app, ["records", "erase", "--account", "EN-MID-1", "--records", str(records.folder)],
                           input="n\n")
    assert result.exit_code == 1
    assert records.rows(call_id)[0] == 1 and len(records.files(call_id)) == 3
    # `purge --account` (the spelling) is the same erasure, for scripts: it does not ask.
    other = records.call("EN-EARLY-1", PROMISE)
    counts = json.loads(records.cli("purge", "--account", "EN-MID-1", "--json").output)
    assert counts["calls"] == 1 and "opt_out_kept" in counts
    assert records.rows(call_id) == (0, 0) and records.rows(other)[0] == 1


def test_a_symlink_pointing_outside_the_records_folder_is_not_followed(records, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    precious = outside / "precious.wav"
    precious.write_bytes(b"not a call recording")
    old = records.call("EN-EARLY-1", PROMISE, days_ago=OLD_DAYS)
    wav = records.folder / f"{old}.wav"
    wav.unlink()
    wav.symlink_to(precious)  # the old call's "recording" leads out of the folder
    # A file outside that reads as an old call, linked in: the scan must not read through it.
    lure = outside / "lure.jsonl"
    lure.write_text(json.dumps({"type": "call", "call_id": "lure", "account": "EN-MID-1"}) + "\n")
    os.utime(lure, (0, 0))
    (records.folder / "lure.jsonl").symlink_to(lure)
    # A link inside the folder to a recent call's summary: the link goes, the summary stays.
    recent = records.call("EN-MID-1", WRONG)
    (records.folder / f"{old}.json.tmp").symlink_to(records.folder / f"{recent}.json")
    os.utime(records.folder / f"{old}.json.tmp", (0, 0), follow_symlinks=False)

    result = records.cli("purge")

    assert "left in place" in result.output and "outside the records folder" in result.output
    assert precious.read_bytes() == b"not a call recording" and wav.is_symlink()
    assert lure.exists() and (records.folder / "lure.jsonl").is_symlink()
    assert not os.path.lexists(records.folder / f"{old}.json.tmp")
    assert len(records.files(recent)) == 3 and records.rows(recent)[0] == 1
    assert records.rows(old) == (0, 0)
    assert records.files(old) == [wav]  # only the refused link is left


def test_the_call_record_and_the_carrier_log_hold_the_number_masked(engines, accounts, tmp_path):
    """An SMS after a promise: the carrier is given the whole number; the call's JSONL, its
    summary, the carrier action log and the log line only ever see it masked."""
    session = engines["en"].start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
    recorder = CallRecorder(tmp_path, session)
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="INFO")
    carrier = LocalProvider("http://127.0.0.1:9")  # never dialled here: it only records the SMS

    class Refusing(LocalProvider):
        async def send_sms(self, to: str, body: str) -> str:
            raise RuntimeError(f"Twilio /Messages.json: 400 The 'To' number {to} is not a valid phone number")

    async def act(provider) -> list[dict]:
        actions = CarrierActions(provider, session, session.call_id)
        for turn in session.turns:
            for action in turn.actions:
                if action["kind"] == "sms":
                    await actions.process_frame(CallActionFrame(action=action), FrameDirection.DOWNSTREAM)
        await actions.settle()
        return actions.log

    try:
        session.open()
        for line in PROMISE:
            session.hear(line)
        log = asyncio.run(act(carrier)) + asyncio.run(act(Refusing("http://127.0.0.1:9")))
    finally:
        logger.remove(sink)
    summary = recorder.finish({"carrier_actions": log})

    assert [m["to"] for m in carrier.messages] == [PHONE]  # the SMS went to the whole number
    assert [(e["status"], e["to"]) for e in log] == [("sent", MASKED), (f"failed: Twilio /Messages.json: 400 "
                                                     f"The 'To' number {MASKED} is not a valid phone number", MASKED)]
    written = [recorder.events_path.read_text(), recorder.summary_path.read_text(), json.dumps(summary), *lines]
    assert any("local carrier" in line for line in lines)
    for text in written:
        assert "2065550101" not in text
    assert MASKED in written[0] and MASKED in written[1]


def test_a_refused_calls_reason_holds_the_number_masked(accounts):
    """The contact rules' reason reaches the audit log and the logs: no whole number in it."""
    account = accounts["EN-EARLY-1"].model_copy(update={"jurisdiction": None, "phone": "+99912345678"})
    decision = may_call(account, [], datetime(2026, 11, 23, 18, tzinfo=UTC))
    assert not decision.allowed and "+*******5678" in decision.reason and "99912345678" not in decision.reason


def test_purge_masks_numbers_older_audit_entries_still_hold(records):
    records.store.write_now(lambda db: db.add(AuditEntry(
        at=datetime.now(UTC), username="server", action="call_refused", target="EN-EARLY-1",
        detail={"reason": f"account EN-EARLY-1 has no jurisdiction and its phone {PHONE} does not suggest one"})))
    assert json.loads(records.cli("purge", "--dry-run", "--json").output)["audit_scrubbed"] == 1
    assert PHONE in records.audit("call_refused")[0].detail["reason"]  # a dry run changes nothing
    assert json.loads(records.cli("purge", "--json").output)["audit_scrubbed"] == 1
    (entry,) = records.audit("call_refused")
    assert entry.target == "EN-EARLY-1" and MASKED in entry.detail["reason"] and PHONE not in entry.detail["reason"]


# -- handoff packets ----------------------------------------------------------------------------
def _escalated(engines, accounts, account_id: str):
    session = engines["en"].start_call(accounts[account_id], today=CALL_DATE, call_id=f"call-{uuid.uuid4().hex[:8]}")
    session.open()
    session.hear("yes this is John")
    action = find_transfer(session.hear("let me talk to a real person"))
    assert action is not None
    return session, action


async def _packets(bus, engines, accounts, plan: list[tuple[str, float, str | None]]) -> list[str]:
    """Packets of escalated calls: (account, days ago, decision or None for still waiting)."""
    ids = []
    for account_id, days_ago, decision in plan:
        when = datetime.now(UTC) - timedelta(days=days_ago)
        session, action = _escalated(engines, accounts, account_id)
        queue = HandoffQueue(bus, now=lambda when=when: when)
        await queue.submit(build_packet(session, action, now=when))
        if decision == "claimed":
            await queue.claim(session.call_id, "agent-7")
        elif decision == "abandoned":
            await queue.abandon(session.call_id)
        elif decision == "unclaimed":
            await queue.wait_for_claim(session.call_id, 0)
        ids.append(session.call_id)
    return ids


async def _states(bus) -> dict[str, PacketState]:
    return {e.call_id: e.state for e in await HandoffQueue(bus).entries()}


def test_purge_removes_decided_packets_past_retention_and_keeps_waiting_ones(records, engines, accounts):
    async def scenario():
        bus = InProcessBus()
        ids = await _packets(bus, engines, accounts, [
            ("EN-EARLY-1", OLD_DAYS, "claimed"), ("EN-MID-1", OLD_DAYS, "abandoned"),
            ("EN-LATE-1", OLD_DAYS, "unclaimed"), ("EN-EARLY-1", OLD_DAYS, None),
            ("EN-MID-1", 5, "claimed")])
        dry = await purge_records(records.store, records.folder, bus, cutoff=cutoff_for(365), dry_run=True)
        assert len(dry.packets.removed) == 3 and len(await _states(bus)) == 5
        report = await purge_records(records.store, records.folder, bus, cutoff=cutoff_for(365))
        return ids, report, await _states(bus), await bus.read_claim(f"handoff:collections:decision:{ids[0]}")

    ids, report, left, claim = asyncio.run(scenario())
    assert sorted(c for _, c in report.packets.removed) == sorted(ids[:3])
    assert report.packets.kept_waiting == [("collections", ids[3])]
    assert left == {ids[3]: PacketState.WAITING, ids[4]: PacketState.CLAIMED}
    assert claim is None  # the decision key went with its packet


def test_erase_on_redis_removes_the_accounts_packets_and_keeps_its_campaign_opt_out(
        records, engines, accounts, redis_url, redis_prefix):
    """The live bus and the campaign store share one Redis (prefixes `P:` and `P`): erasing
    takes the account's decided packets and leaves its opt-out and other accounts' packets."""
    bus_prefix = f"{redis_prefix}:"
    campaign = RedisStore(connect(redis_url), prefix=redis_prefix)
    campaign.opt_out("EN-MID-1", datetime.now(UTC), "opted out on a call")

    async def make() -> list[str]:
        bus = RedisBus(redis_url, prefix=bus_prefix)
        try:
            return await _packets(bus, engines, accounts, [
                ("EN-MID-1", 3, "claimed"), ("EN-MID-1", 0, None), ("EN-EARLY-1", OLD_DAYS, "claimed")])
        finally:
            await bus.aclose()

    ids = asyncio.run(make())
    call_id = records.call("EN-MID-1", WRONG)

    result = records.cli("erase", "--account", "EN-MID-1", "--yes", "--redis", redis_url, "--prefix", bus_prefix)

    assert "kept 1 handoff packet(s) still waiting" in result.output
    assert records.rows(call_id) == (0, 0) and records.files(call_id) == []

    async def left():
        bus = RedisBus(redis_url, prefix=bus_prefix)
        try:
            return await _states(bus), await sweep_packets(bus, account_id="EN-MID-1", dry_run=True)
        finally:
            await bus.aclose()

    states, again = asyncio.run(left())
    assert states == {ids[1]: PacketState.WAITING, ids[2]: PacketState.CLAIMED}
    assert again.removed == [] and again.queues == ["collections"]
    assert campaign.is_opted_out("EN-MID-1") and "EN-MID-1" in campaign.opted_out()


def test_a_redis_that_is_away_leaves_packets_unchecked_but_purges_the_rest(records):
    old = records.call("EN-EARLY-1", PROMISE, days_ago=OLD_DAYS)
    away = RedisBus(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.5, op_timeout=0.5)

    report = asyncio.run(purge_records(records.store, records.folder, away, cutoff=cutoff_for(365)))

    assert report.packets is None and "unreachable" in report.packets_error
    assert records.rows(old) == (0, 0) and records.files(old) == []


# -- the campaigns' SMS and accounts -------------------------------------------------------------
REFUSED = {"outcome": "refused", "tags": ["outcome:refused", "identity_confirmed"]}
MARIA_PHONE = "+13125550102"  # EN-MID-1's number in the sample accounts


def _texted(triggers: SmsTriggers, account, *, days_ago: float):
    """A call without payment `days_ago` days ago; its bill goes out at the next SMS window,
    its 5- and 8-day reminders wait."""
    triggers.clock.set(datetime.now(UTC) - timedelta(days=days_ago))
    (bill,) = [p for p in triggers.after_call(account, REFUSED) if p.trigger == AFTER_CALL]
    triggers.clock.set(bill.due_at)
    (sent,) = triggers.send_due()
    return sent


def test_purge_removes_the_sms_past_retention_from_redis_and_keeps_recent_ones(records, accounts, redis_url,
                                                                              redis_prefix):
    client = connect(redis_url)
    store, outbox = RedisSmsStore(client, redis_prefix), RedisStreamOutbox(client, f"{redis_prefix}:sms:outbox")
    triggers = SmsTriggers(store, outbox, RedisStore(client, redis_prefix), ManualClock(datetime.now(UTC)))
    recent = _texted(triggers, accounts["EN-MID-1"], days_ago=2)
    _texted(triggers, accounts["EN-EARLY-1"], days_ago=OLD_DAYS)

    result = records.cli("purge", "--json", "--redis", redis_url, "--prefix", f"{redis_prefix}:",
                         "--campaign-prefix", redis_prefix)

    counts = json.loads(result.output)
    assert counts["sms"] == {"pending": 2, "done": 1, "sent": 1, "first_reminder": 1} and counts["sms_outbox"] == 1
    assert counts["campaign"] is None and counts["campaign_error"] is None  # a purge by age leaves the campaigns
    assert outbox.read() == [recent]
    assert {p.account_id for p in store.pending()} == {"EN-MID-1"} and list(store.done()) == [f"EN-MID-1:{AFTER_CALL}"]
    assert store.first_reminder("EN-EARLY-1") is None and store.first_reminder("EN-MID-1") is not None
    (entry,) = records.audit("records_purge")
    assert entry.detail["sms"]["done"] == 1 and entry.detail["sms_outbox"] == 1


@pytest.fixture(params=["redis", "memory"])
def campaigns(request, records):
    """The campaigns' stores as `voicebot campaign` opens them: on Redis, or without it in the
    state file and the outbox file beside the records folder; and the options naming them."""
    if request.param == "redis":
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        options = ["--redis", url, "--prefix", f"{prefix}:", "--campaign-prefix", prefix]
        return lambda: open_backend(url, prefix), options
    base = records.folder.parent
    return lambda: open_backend(None, state_file=base / "campaign" / "state.json",
                                outbox_file=base / "sms" / "outbox.jsonl"), []


def test_erase_removes_the_accounts_sms_and_campaign_details_and_keeps_its_opt_out(records, accounts, campaigns):
    opened, options = campaigns
    backend = opened()
    clock = ManualClock(datetime.fromisoformat("2026-11-23T10:00:00-08:00"))
    triggers = SmsTriggers(backend.sms_store, backend.outbox, backend.store, clock)
    worker = CampaignWorker(backend.store, PreparedDialer(default="answered:refused"), "spring", clock=clock,
                            sms=triggers)
    asyncio.run(worker.run([accounts["EN-MID-1"], accounts["EN-EARLY-1"]]))  # John's bill goes at once
    clock.set(datetime.fromisoformat("2026-11-23T15:00:00-06:00"))  # Maria's waits for 15:00 in Chicago
    triggers.send_due()
    backend.store.opt_out("EN-MID-1", clock.now(), "letter")
    backend.save()
    assert [m.to for m in backend.outbox.read()] == ["+12065550101", MARIA_PHONE]

    counted = json.loads(records.cli("erase", "--account", "EN-MID-1", "--dry-run", "--json", *options).output)
    result = records.cli("erase", "--account", "EN-MID-1", "--yes", *options)

    assert counted["sms"] == {"pending": 2, "done": 1, "sent": 1, "first_reminder": 1}
    assert counted["sms_outbox"] == 1 and counted["campaign_error"] is None
    assert counted["campaign"] == {"accounts": 1, "states": 1, "calls": 1, "paid": 0, "in_call": None}
    assert "campaign accounts (name, phone, debt)" in result.output and "SMS outbox messages" in result.output
    assert "kept: the opt-out of EN-MID-1: opted out, kept in the campaign store" in result.output
    assert "keeps the account's dial times" in result.output
    after = opened()
    assert list(after.store.accounts("spring")) == list(after.store.states("spring")) == ["EN-EARLY-1"]
    assert [c.account_id for c in after.store.calls("spring")] == ["EN-EARLY-1"]
    assert [m.account_id for m in after.outbox.read()] == ["EN-EARLY-1"]
    assert {p.account_id for p in after.sms_store.pending()} == {"EN-EARLY-1"}
    assert after.sms_store.first_reminder("EN-MID-1") is None and after.store.is_opted_out("EN-MID-1")
    for path in records.folder.parent.glob("*/*.json*"):  # without Redis: the state file, the outbox file
        assert MARIA_PHONE not in path.read_text() and "Maria" not in path.read_text(), path


def test_campaign_stores_that_are_away_are_reported_and_the_calls_purged_all_the_same(records):
    old = records.call("EN-EARLY-1", PROMISE, days_ago=OLD_DAYS)
    away = connect(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.5, op_timeout=0.5)
    data = CampaignData(RedisStore(away), RedisSmsStore(away), [RedisStreamOutbox(away)], "a Redis that is away")

    report = asyncio.run(purge_records(records.store, records.folder, None, cutoff=cutoff_for(365),
                                       campaign_data=data))

    assert report.sms is None and report.campaign_data == "a Redis that is away"
    assert report.campaign_error.startswith("StoreUnavailable: SMS store at redis://127.0.0.1:")
    assert "is unreachable (purge old messages): ConnectionError" in report.campaign_error
    assert records.rows(old) == (0, 0) and records.files(old) == []
    (entry,) = records.audit("records_purge")
    assert entry.detail["campaign_error"] == report.campaign_error


# -- the setting, and the server's own purge -----------------------------------------------------
def test_the_retention_setting(monkeypatch, tmp_path):
    assert retention_days({}) == 365 and retention_days({"VOICEBOT_RETENTION_DAYS": "30"}) == 30
    for bad in ("0", "a year"):
        with pytest.raises(ValueError, match="VOICEBOT_RETENTION_DAYS"):
            retention_days({"VOICEBOT_RETENTION_DAYS": bad})
    monkeypatch.setenv("VOICEBOT_RETENTION_DAYS", "90")
    settings = ServerSettings.from_env(accounts_file=tmp_path / "a.json", tokens=["t"])
    assert settings.retention_days == 90 and settings.retention_purge_every_h == 24
    assert cutoff_for(90, datetime(2026, 11, 23, tzinfo=UTC)) == datetime(2026, 8, 25, tzinfo=UTC)


def test_the_server_purges_on_its_own_while_it_serves(records):
    old = records.call("EN-EARLY-1", PROMISE, days_ago=OLD_DAYS)
    recent = records.call("EN-MID-1", WRONG)
    records.store.flush()
    served = FastAPI()
    served.state.records, served.state.bus = records.store, InProcessBus()
    settings = ServerSettings(accounts_file=records.folder / "none.json", tokens=["t"], records_dir=records.folder,
                              retention_days=365, retention_purge_every_h=24)
    purge_while_serving(served, settings, first_after_s=0)
    with TestClient(served):
        for _ in range(200):  # the purge is over once it is audited (files go first)
            if records.audit("records_purge"):
                break
            time.sleep(0.05)
    assert records.files(old) == [] and records.rows(old) == (0, 0)
    assert len(records.files(recent)) == 3
    (entry,) = records.audit("records_purge")
    assert entry.username == "server:retention"


def test_the_servers_purge_also_ages_out_the_campaigns_sms_on_its_redis(records, accounts, redis_url, redis_prefix):
    """`voicebot serve --opt-out-redis-url` knows the campaigns' Redis: its daily purge takes
    the SMS past retention there too (numbers and texts), not only the call records."""
    client = connect(redis_url)
    store, outbox = RedisSmsStore(client, redis_prefix), RedisStreamOutbox(client, f"{redis_prefix}:sms:outbox")
    triggers = SmsTriggers(store, outbox, RedisStore(client, redis_prefix), ManualClock(datetime.now(UTC)))
    recent = _texted(triggers, accounts["EN-MID-1"], days_ago=2)
    _texted(triggers, accounts["EN-EARLY-1"], days_ago=OLD_DAYS)
    served = FastAPI()
    served.state.records, served.state.bus = records.store, InProcessBus()
    settings = ServerSettings(accounts_file=records.folder / "none.json", tokens=["t"], records_dir=records.folder,
                              retention_days=365, retention_purge_every_h=24, opt_out_redis_url=redis_url,
                              opt_out_prefix=redis_prefix)
    purge_while_serving(served, settings, first_after_s=0)
    with TestClient(served):
        for _ in range(200):
            if records.audit("records_purge"):
                break
            time.sleep(0.05)
    (entry,) = records.audit("records_purge")
    assert entry.detail["sms_outbox"] == 1 and entry.detail["sms"]["sent"] == 1
    assert outbox.read() == [recent]
    assert store.first_reminder("EN-EARLY-1") is None and store.first_reminder("EN-MID-1") is not None

"""Nothing of a debtor stays in the handoff outbox after an erasure or past the retention period.

Issue 19: the outbox (telephony/handoff/outbox.py) keeps, on the server's disk, the handoff
packets the agent queue could not take while Redis was down: the debtor's name and words.
`voicebot records erase` and the retention purge did not reach it, and a server filing the
outbox when Redis came back put an erased packet on the bus.  Real packets from real sessions
(the shipped scripts), real files, a real redis-server of each test's own that is down (killed,
or frozen with SIGSTOP in the middle of a filing) and then up again.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from conftest import CALL_DATE
from telephony.bus.redis_bus import RedisBus
from telephony.handoff import HandoffQueue, PacketState, UnknownHandoff, build_packet, find_transfer
from telephony.handoff.outbox import OUTBOX_NAME, HandoffOutbox
from telephony.handoff.packet import HandoffPacket
from voicebot.bench.redis_server import frozen
from voicebot.cli import app
from voicebot.records import RecordStore
from voicebot.records.models import AuditEntry
from voicebot.records.retention import cutoff_for, purge_records

runner = CliRunner()
MARIA = "EN-MID-1"    # Maria Lopez in the sample accounts
JOHN = "EN-EARLY-1"   # John Carter


def packet_of(engines, accounts, account_id: str, *, days_ago: float = 0) -> HandoffPacket:
    """The packet of a real call in which the debtor asked for a person."""
    session = engines["en"].start_call(accounts[account_id], today=CALL_DATE,
                                       call_id=f"call-{uuid.uuid4().hex[:8]}")
    session.open()
    session.hear("yes this is me")
    action = find_transfer(session.hear("let me talk to a real person"))
    assert action is not None
    packet = build_packet(session, action)
    if days_ago:
        packet = packet.model_copy(update={"created_at": datetime.now(UTC) - timedelta(days=days_ago)})
    return packet


async def in_queue(bus: RedisBus, call_id: str) -> bool:
    try:
        await HandoffQueue(bus).get(call_id)
        return True
    except UnknownHandoff:
        return False


def test_erase_reaches_the_outbox_and_the_redis_that_comes_back_never_gets_the_packet(
        engines, accounts, redis_server, tmp_path):
    """Redis is down: two debtors' packets wait in the outbox, one with a callback time.  The
    data-protection officer erases Maria (`voicebot records erase`, Redis still down): nothing
    of hers stays in the file, the audit says how many packets went, and once Redis is back
    only John's packet reaches the queue."""
    records = tmp_path / "calls"
    records.mkdir()
    path = records / OUTBOX_NAME
    outbox = HandoffOutbox(path)
    redis_server.kill()
    maria, john = packet_of(engines, accounts, MARIA), packet_of(engines, accounts, JOHN)
    outbox.keep(maria, PacketState.UNCLAIMED, 4.0)
    outbox.keep(john, PacketState.ABANDONED, 2.0)
    assert outbox.add_callback(maria.call_id, "2026-11-24")
    assert "Maria" in path.read_text()

    dry = runner.invoke(app, ["records", "erase", "--account", MARIA, "--dry-run", "--json", "--records", str(records)])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["outbox_packets"] == 1 and "Maria" in path.read_text()
    result = runner.invoke(app, ["records", "erase", "--account", MARIA, "--yes", "--records", str(records)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "handoff packets in the outbox (on disk)" in result.output

    left = path.read_text()
    assert "Maria" not in left and "Lopez" not in left and MARIA not in left
    assert "real person" in left  # John's transcript still waits for the queue
    assert [item["packet"]["call_id"] for _, item in outbox.pending()] == [john.call_id]
    store = RecordStore(f"sqlite:///{records / 'records.db'}")
    try:
        with store.session() as db:
            (entry,) = db.scalars(select(AuditEntry).where(AuditEntry.action == "records_erase"))
        assert entry.detail["outbox_packets"] == 1
    finally:
        store.close()

    redis_server.start()
    prefix = f"erase-outbox-{uuid.uuid4().hex[:8]}:"

    async def deliver():
        bus = RedisBus(redis_server.url, prefix=prefix)
        try:
            filed, _ = await HandoffOutbox(path).deliver(bus)
            return filed, await in_queue(bus, john.call_id), await in_queue(bus, maria.call_id)
        finally:
            await bus.aclose()

    assert asyncio.run(deliver()) == (1, True, False)
    assert path.read_bytes() == b""  # all filed: nothing of either debtor stays on the disk


def test_the_retention_purge_takes_outbox_packets_past_the_retention_period(engines, accounts, tmp_path):
    records = tmp_path / "calls"
    records.mkdir()
    outbox = HandoffOutbox(records / OUTBOX_NAME)
    old, recent = packet_of(engines, accounts, MARIA, days_ago=400), packet_of(engines, accounts, JOHN, days_ago=3)
    outbox.keep(old, PacketState.UNCLAIMED)
    outbox.keep(recent, PacketState.UNCLAIMED)
    store = RecordStore(f"sqlite:///{records / 'records.db'}")
    try:
        dry = asyncio.run(purge_records(store, records, None, cutoff=cutoff_for(365), dry_run=True))
        assert dry.outbox == [old.call_id] and len(outbox.pending()) == 2
        report = asyncio.run(purge_records(store, records, None, cutoff=cutoff_for(365)))
    finally:
        store.close()
    assert report.outbox == [old.call_id] and report.counts()["outbox_packets"] == 1
    assert [item["packet"]["call_id"] for _, item in outbox.pending()] == [recent.call_id]
    assert "Maria" not in (records / OUTBOX_NAME).read_text()


def test_an_erasure_during_a_filing_in_flight_is_not_undone(engines, accounts, redis_server, tmp_path):
    """The server is filing Maria's packet when the erasure runs: Redis is frozen (SIGSTOP)
    with the filing's first command sent.  The erasure does not wait for it; when Redis thaws
    the filing completes, finds the line erased under the lock, and takes the packet back out
    of the queue instead of marking it delivered."""
    path = tmp_path / OUTBOX_NAME
    maria = packet_of(engines, accounts, MARIA)
    HandoffOutbox(path).keep(maria, PacketState.UNCLAIMED, 3.0)
    prefix = f"race-{uuid.uuid4().hex[:8]}:"

    async def scenario():
        bus = RedisBus(redis_server.url, prefix=prefix)
        try:
            await bus.check()  # connected before the freeze
            server_side = HandoffOutbox(path)
            with frozen(redis_server):
                filing = asyncio.create_task(server_side.deliver(bus))
                await asyncio.sleep(0.5)
                assert not filing.done()  # blocked on the frozen Redis, mid-filing
                erased = await asyncio.to_thread(HandoffOutbox(path).erase_account, MARIA)
                assert not filing.done()
            filed, _ = await asyncio.wait_for(filing, 10)
            return erased, filed, await in_queue(bus, maria.call_id)
        finally:
            await bus.aclose()

    erased, filed, queued = asyncio.run(scenario())
    assert erased == [maria.call_id]
    assert (filed, queued) == (0, False)
    assert "Maria" not in path.read_text() and HandoffOutbox(path).pending() == []


def test_a_packet_kept_while_an_erasure_renames_the_file_is_not_lost(engines, accounts, tmp_path):
    """An erasure and a `keep` wait for the same lock: whichever goes first, the kept packet is
    in the file at the path afterwards (a writer that opened the file the erasure replaced
    reopens the new one), and the erased one is not."""
    packets = [packet_of(engines, accounts, MARIA) for _ in range(3)]
    johns = [packet_of(engines, accounts, JOHN) for _ in range(10)]
    path = tmp_path / OUTBOX_NAME
    for round_ in range(10):
        path.unlink(missing_ok=True)
        HandoffOutbox(path).keep(packets[round_ % 3], PacketState.UNCLAIMED)
        holder = HandoffOutbox(path)
        threads = [threading.Thread(target=HandoffOutbox(path).erase_account, args=(MARIA,)),
                   threading.Thread(target=HandoffOutbox(path).keep, args=(johns[round_], PacketState.UNCLAIMED))]
        with holder._locked():  # the lock taken, as another process's append would hold it
            for thread in threads:
                thread.start()
            threading.Event().wait(0.05)  # both now wait on the lock
        for thread in threads:
            thread.join(10)
        pending = [item["packet"]["call_id"] for _, item in HandoffOutbox(path).pending()]
        assert pending == [johns[round_].call_id], (round_, path.read_text()[:300])
        assert not Path(str(path) + ".erasing").exists()

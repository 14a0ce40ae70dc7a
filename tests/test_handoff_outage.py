"""A debtor who asks for a person while Redis is down is not lost to the agent queue.

Found by `benchmarks/faults.py` (issue 19): a "let me talk to a real person" heard while the
bus's redis-server was down never reached the queue (the submit failed, the error was logged,
the packet dropped), and a call whose hold was cut by the outage left its packet "waiting" for
ever, for a desk to claim a call that had ended.  Now the packet, decided, waits in the
server's outbox on local disk (telephony/handoff/outbox.py) and is filed in the queue once
Redis is back.  Each test has a redis-server of its own (voicebot/bench/redis_server.py,
persistent like a production Redis) that it SIGKILLs and restarts; the first one is a real
audio call through the local carrier on the real server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import free_port, record_of, serving
from telephony.bus.redis_bus import RedisBus
from telephony.handoff import HandoffQueue, PacketState, UnknownHandoff, build_packet, find_transfer
from telephony.handoff.live_call import QueueEscalation
from telephony.handoff.outbox import OUTBOX_NAME, HandoffOutbox
from voicebot.providers.local import LocalProvider
from voicebot.server import ServerSettings, create_app

REPO = Path(__file__).resolve().parents[1]
TOKEN = "handoff-outage-token"
HOLD_S = 6.0
FILED_WITHIN_S = 20.0  # the outbox retries every 5 s at most once the bus has been away a while


async def filed(bus: RedisBus, call_id: str, state: PacketState | None = None, within_s: float = FILED_WITHIN_S):
    """The queue's entry for the call once it is there (and decided, if `state`)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            entry = await HandoffQueue(bus).get(call_id)
            if state is None or entry.state is state:
                return entry
        except UnknownHandoff:
            entry = None
        assert time.monotonic() < deadline, f"call {call_id}: never filed in the queue (last seen: {entry})"
        await asyncio.sleep(0.2)


def escalated(engines, accounts, account: str = "EN-EARLY-1"):
    session = engines["en"].start_call(accounts[account], today=CALL_DATE, call_id=f"call-{uuid.uuid4().hex[:8]}")
    session.open()
    session.hear("yes this is John")
    action = find_transfer(session.hear("let me talk to a real person"))
    assert action is not None
    return session, action


def test_a_person_asked_for_while_redis_is_down_reaches_the_queue_once_it_is_back(redis_server, tmp_path):
    """A real call: the debtor asks for a person (the keypad's 0) with the bus's Redis dead.
    Nobody can be asked, so the bot says so at once and takes a callback time; once Redis is
    back the packet is in the queue, unclaimed, with that time, for a supervisor to follow up."""
    records = tmp_path / "calls"
    port = free_port()
    base = f"ws://127.0.0.1:{port}"
    prefix = f"outage-{uuid.uuid4().hex[:8]}:"
    carrier = LocalProvider(base, token=TOKEN, debtor_voice="en-kate")
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=[TOKEN],
                              call_date=CALL_DATE, handoff_timeout_s=HOLD_S)
    app = create_app(settings, provider=carrier, bus=RedisBus(redis_server.url, prefix=prefix))

    async def call():
        placed = await carrier.place_call("+15550100", "EN-MID-1",
                                          debtor="#0|<silence>|call me back tomorrow please")
        return await carrier.wait(placed.call_id, timeout=120)

    with serving(app, port):
        redis_server.kill()
        started = time.monotonic()
        result = asyncio.run(call())
        took = time.monotonic() - started
        summary = record_of(records, result.call_id)
        redis_server.start()

        async def queued():
            bus = RedisBus(redis_server.url, prefix=prefix)
            try:
                return await filed(bus, summary["call_id"], PacketState.UNCLAIMED)
            finally:
                await bus.aclose()
        entry = asyncio.run(queued())

    kinds = [t["kind"] for t in summary["turns"]]
    assert "no_agent" in kinds, kinds  # told at once that nobody is free...
    assert summary["outcome"] == "callback" and summary["details"]["callback_time"] == "2026-11-24"
    assert "handoff_kept" in summary["events"]
    assert took < 60, f"the call took {took:.0f} s"  # ...not held for an agent nobody could ask
    assert entry.packet.account_id == "EN-MID-1" and entry.packet.reason == "request_human"
    assert entry.packet.callback_time == "2026-11-24"
    assert [line.intent for line in entry.packet.transcript if line.speaker == "debtor"] == ["request_human"]
    outbox = HandoffOutbox(records / OUTBOX_NAME)
    deadline = time.monotonic() + 5
    while outbox.pending() or (records / OUTBOX_NAME).stat().st_size:  # filed: the transcript leaves the disk
        assert time.monotonic() < deadline, (records / OUTBOX_NAME).read_text()
        time.sleep(0.1)


def test_a_hold_cut_by_the_outage_is_decided_not_left_waiting(engines, accounts, redis_server, tmp_path):
    """The packet was queued and the call held when Redis died: the call goes on (unclaimed at
    once) and, once Redis is back, the packet it left reads unclaimed, not waiting, so no desk
    claims a call that has ended.  A packet an agent had claimed keeps that claim."""
    prefix = f"hold-{uuid.uuid4().hex[:8]}:"
    outbox = HandoffOutbox(tmp_path / OUTBOX_NAME)

    async def scenario():
        bus = RedisBus(redis_server.url, prefix=prefix)
        desk = RedisBus(redis_server.url, prefix=prefix)
        session, action = escalated(engines, accounts)
        claimed_session, claimed_action = escalated(engines, accounts, "EN-MID-1")
        escalation = QueueEscalation(bus, timeout_s=60, outbox=outbox)
        holding = asyncio.create_task(escalation(session, action))
        other = QueueEscalation(bus, timeout_s=60, outbox=outbox)
        claimed_hold = asyncio.create_task(other(claimed_session, claimed_action))
        await filed(desk, session.call_id, PacketState.WAITING, 10)
        await filed(desk, claimed_session.call_id, PacketState.WAITING, 10)
        won = await HandoffQueue(desk).claim(claimed_session.call_id, "ana")
        assert won.won
        redis_server.kill()
        decision = await asyncio.wait_for(holding, 15)
        assert not decision.claimed
        await asyncio.wait_for(claimed_hold, 15)
        await asyncio.to_thread(redis_server.start)
        entry = await filed(desk, session.call_id, PacketState.UNCLAIMED)
        claimed = await HandoffQueue(desk).get(claimed_session.call_id)
        await bus.aclose()
        await desk.aclose()
        return session, entry, claimed

    session, entry, claimed = asyncio.run(scenario())
    assert entry.state is PacketState.UNCLAIMED and entry.packet.call_id == session.call_id
    assert "handoff_kept" in [e["kind"] for e in session.events]
    assert (claimed.state, claimed.claimed_by) == (PacketState.CLAIMED, "ana")


def test_a_packet_kept_by_a_killed_server_is_filed_by_the_next_one(engines, accounts, redis_server, tmp_path):
    """Another process keeps a packet in the outbox (Redis down) and is SIGKILLed; a torn
    line follows it.  The next server started on the same records folder files the packet as
    soon as it starts, without any call."""
    records = tmp_path / "calls"
    session, action = escalated(engines, accounts)
    packet = build_packet(session, action).model_copy(update={"callback_time": "2026-11-25"})
    packet_file = tmp_path / "packet.json"
    packet_file.write_text(packet.model_dump_json())
    keeper = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time; from pathlib import Path; "
            "from telephony.handoff.outbox import HandoffOutbox; "
            "from telephony.handoff.packet import HandoffPacket; from telephony.handoff.queue import PacketState; "
            "p = HandoffPacket.model_validate_json(Path(sys.argv[2]).read_text()); "
            "HandoffOutbox(Path(sys.argv[1])).keep(p, PacketState.UNCLAIMED, 4.5); print('kept', flush=True); "
            "time.sleep(60)"),
         str(records / OUTBOX_NAME), str(packet_file)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert keeper.stdout.readline().strip() == "kept"
    finally:
        keeper.send_signal(signal.SIGKILL)
        keeper.wait()
    with (records / OUTBOX_NAME).open("ab") as fh:
        fh.write(b'{"packet": {"call_id": "torn')  # a writer killed mid-line

    prefix = f"restart-{uuid.uuid4().hex[:8]}:"
    port = free_port()
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=[TOKEN],
                              call_date=CALL_DATE, warm_up=False)
    app = create_app(settings, bus=RedisBus(redis_server.url, prefix=prefix))

    async def queued():
        bus = RedisBus(redis_server.url, prefix=prefix)
        try:
            return await filed(bus, packet.call_id, PacketState.UNCLAIMED)
        finally:
            await bus.aclose()

    with serving(app, port):
        entry = asyncio.run(queued())
    assert entry.packet == packet
    assert entry.decided_at is not None

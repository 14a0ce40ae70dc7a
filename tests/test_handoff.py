"""Live bus and human handoff, in-process and on a real Redis (the `redis_url` fixture).

Every Redis test works under its own random key prefix, so tests share one server safely.
Async code runs under `asyncio.run` with an outer deadline, so a hang fails instead of
stalling the suite; the only sleeps and timeouts are the ones the semantics are about.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from media_server import free_port
from dialogue.accounts import load_account
from dialogue.engine import engine_for
from dialogue.session import CallSession
from telephony.bus import (CALLS_CHANNEL, Bus, BusUnavailable, CallFeed, InProcessBus, RedisBus,
                           bus_from_env, call_channel)
from telephony.handoff import (CALLBACK_NODE, Claimed, HandoffPacket, HandoffQueue, PacketState,
                               Unclaimed, UnknownHandoff, build_packet, escalate, find_transfer,
                               mask_phone)

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = f"{REPO / 'scripts' / 'accounts' / 'sample_accounts.json'}:EN-EARLY-1"
TODAY = date(2026, 11, 23)
DEADLINE_S = 20  # per test: a guard against hangs, not a timing assertion


def run(coro):
    async def guarded():
        return await asyncio.wait_for(coro, DEADLINE_S)
    return asyncio.run(guarded())


@pytest.fixture(params=["in-process", "redis"])
def make_bus(request) -> Callable[[], Bus]:
    """Buses on one backend.  In-process: the same bus each time (one process).  Redis: a new
    client each time, with its own connections, as separate processes would have."""
    if request.param == "in-process":
        shared = InProcessBus()
        return lambda: shared
    url = request.getfixturevalue("redis_url")
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    return lambda: RedisBus(url, prefix=prefix)


@pytest.fixture()
def redis_bus(redis_url) -> Callable[[], RedisBus]:
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    factory = lambda: RedisBus(redis_url, prefix=prefix)  # noqa: E731
    factory.prefix = prefix  # type: ignore[attr-defined]
    return factory


def escalated_call() -> tuple[CallSession, dict]:
    """A real call on the shipped English scripts: identity confirmed, then a human asked for."""
    session = engine_for("en").start_call(load_account(ACCOUNT), today=TODAY,
                                          call_id=f"call-{uuid.uuid4().hex[:8]}")
    session.open()
    session.hear("yes this is John")
    turn = session.hear("let me talk to a real person")
    action = find_transfer(turn)
    assert action is not None, turn.actions
    return session, action


@pytest.fixture(scope="module")
def packet() -> HandoffPacket:
    session, action = escalated_call()
    return build_packet(session, action)


def copy_of(packet: HandoffPacket) -> HandoffPacket:
    """The same context under a fresh call id: one packet per race round."""
    return packet.model_copy(update={"call_id": f"call-{uuid.uuid4().hex[:10]}"})


# -- the bus ------------------------------------------------------------------------------

def test_events_arrive_in_order_to_every_subscriber(make_bus):
    async def scenario():
        async with make_bus() as publisher, make_bus() as listener:
            async with listener.subscribe("live") as a, listener.subscribe("live") as b, \
                    listener.subscribe("other") as other:
                for seq in range(200):
                    await publisher.publish("live", {"seq": seq, "text": f"turn {seq} — ünïcode"})
                got_a = [(await a.get(5))["seq"] for _ in range(200)]
                got_b = [(await b.get(5))["seq"] for _ in range(200)]
                assert got_a == got_b == list(range(200))
                assert await other.get(0.05) is None  # other channels hear nothing
                with pytest.raises(TypeError, match="'live'.*not JSON"):
                    await publisher.publish("live", {"when": date.today()})
            # after leaving, the subscription is gone: publishing reaches no one, and is fine
            await publisher.publish("live", {"seq": -1})
    run(scenario())


def test_claims_leases_and_counters(make_bus):
    async def scenario():
        async with make_bus() as one, make_bus() as two:
            assert await one.claim_once("k", "first")
            assert not await two.claim_once("k", "second")
            assert await two.read_claims(["k", "missing"]) == ["first", None]

            assert await one.acquire_lease("lease", "w1", 150)
            assert not await two.acquire_lease("lease", "w2", 150)
            assert not await two.release_lease("lease", "w2")  # not the owner's: refused
            assert await one.renew_lease("lease", "w1", 150)
            await asyncio.sleep(0.4)  # the lease's own expiry is what is tested
            assert await one.read_claim("lease") is None
            assert not await one.renew_lease("lease", "w1", 150)  # lost: tell the worker
            assert await two.acquire_lease("lease", "w2", 5000)
            assert await two.release_lease("lease", "w2")

            assert await one.incr("calls:acct", ttl_ms=60_000) == 1
            assert await two.incr("calls:acct", 2) == 3
            assert await one.counter("calls:acct") == 3 and await one.counter("nothing") == 0
            assert await one.delete("k", "calls:acct") == 2
    run(scenario())


def test_call_feed_publishes_a_call_in_order(make_bus):
    async def scenario():
        async with make_bus() as bus, make_bus() as console:
            session = engine_for("en").start_call(load_account(ACCOUNT), today=TODAY)
            async with console.subscribe(call_channel(session.call_id)) as turns, \
                    console.subscribe(CALLS_CHANNEL) as calls:
                feed = CallFeed(bus, session)
                await feed.start()
                session.open()
                session.hear("yes this is John")
                session.hear("let me talk to a real person")
                await feed.end()
                kinds = [(await turns.get(5))["type"] for _ in range(5)]
                assert kinds == ["call.started", "call.turn", "call.turn", "call.turn", "call.ended"]
                assert [(await calls.get(5))["type"] for _ in range(2)] == ["call.started", "call.ended"]
            assert feed.failures == 0
    run(scenario())


def test_bus_from_env_picks_redis_only_when_configured():
    assert isinstance(bus_from_env({}), InProcessBus)
    bus = bus_from_env({"REDIS_URL": "redis://:hunter2@127.0.0.1:6390/2", "VOICEBOT_BUS_PREFIX": "x:"})
    assert isinstance(bus, RedisBus) and bus.prefix == "x:"
    assert "hunter2" not in bus.description and "127.0.0.1:6390/2" in bus.description


def test_dead_redis_fails_quickly_naming_the_url(packet):
    port = free_port()  # a port nothing listens on
    url = f"redis://127.0.0.1:{port}/0"

    async def scenario():
        bus = RedisBus(url, connect_timeout=1.0, op_timeout=2.0)
        with pytest.raises(BusUnavailable, match=f"127.0.0.1:{port}.*publish"):
            await bus.publish("calls", {"type": "call.started"})
        with pytest.raises(BusUnavailable, match=f"127.0.0.1:{port}.*subscribe"):
            async with bus.subscribe("calls"):
                pass
        with pytest.raises(BusUnavailable, match=f"127.0.0.1:{port}"):
            await bus.check()
        with pytest.raises(BusUnavailable, match=f"127.0.0.1:{port}"):
            await HandoffQueue(bus).submit(copy_of(packet))
        await bus.aclose()
    run(scenario())


# -- the handoff packet -------------------------------------------------------------------

def test_packet_from_a_real_call_carries_context_and_masks_the_phone():
    session, action = escalated_call()
    assert action == {"kind": "transfer", "reason": "request_human", "queue": "collections"}
    packet = build_packet(session, action)
    assert (packet.call_id, packet.account_id, packet.queue) == (session.call_id, "EN-EARLY-1", "collections")
    assert packet.reason == "request_human"
    assert (packet.stage, packet.locale, packet.attempt) == ("early", "en", 1)
    assert packet.identity_confirmed and not packet.third_party
    assert packet.phone_masked == "+*******0101"
    text = packet.model_dump_json()
    assert "2065550101" not in text and "+12065550101" not in text

    debtor = [line for line in packet.transcript if line.speaker == "debtor"]
    assert [(d.text, d.intent) for d in debtor] == [("yes this is John", "confirm_identity"),
                                                     ("let me talk to a real person", "request_human")]
    assert all(d.confidence is not None and 0 < d.confidence <= 1 for d in debtor)
    bot = [line.text for line in packet.transcript if line.speaker == "bot"]
    assert bot[0].startswith("Hello") and "connecting you" in bot[-1]
    assert packet.intents == ["confirm_identity", "request_human"]

    result = session.result()
    assert (packet.score, packet.tags, packet.outcome) == (result.score, result.tags, "escalated")
    assert "escalated:request_human" in packet.tags
    assert packet.created_at.tzinfo is not None
    assert HandoffPacket.model_validate_json(text) == packet
    # without an action, the call's latest transfer is the one handed off
    assert build_packet(session, now=packet.created_at) == packet


def test_mask_phone_keeps_only_the_last_digits():
    assert mask_phone("+8613800000001") == "+*********0001"
    assert mask_phone("206-555-0101") == "***-***-0101"
    assert mask_phone("12345") == "****5"
    assert mask_phone(None) is None


# -- the agent queue ----------------------------------------------------------------------

def test_two_competing_agents_exactly_one_wins_each_round(make_bus, packet):
    rounds = 40

    async def scenario():
        async with make_bus() as call_bus, make_bus() as bus1, make_bus() as bus2:
            calls = HandoffQueue(call_bus)
            agent1, agent2 = HandoffQueue(bus1), HandoffQueue(bus2)
            jitter = random.Random(7)
            wins = {"agent-1": 0, "agent-2": 0}

            async def agent(queue: HandoffQueue, call_id: str, name: str):
                for _ in range(jitter.randrange(3)):  # vary who reaches the bus first
                    await asyncio.sleep(0)
                return await queue.claim(call_id, name)

            for _ in range(rounds):
                entry = await calls.submit(copy_of(packet))
                call_id = entry.call_id
                first, second = await asyncio.gather(agent(agent1, call_id, "agent-1"),
                                                     agent(agent2, call_id, "agent-2"))
                assert first.won != second.won, (first, second)
                winner = "agent-1" if first.won else "agent-2"
                wins[winner] += 1
                assert first.entry.claimed_by == second.entry.claimed_by == winner
                assert first.entry.state == second.entry.state == PacketState.CLAIMED
                result = await calls.wait_for_claim(call_id, timeout=1.0)
                assert isinstance(result, Claimed) and result.agent_id == winner
                again = await agent1.claim(call_id, "agent-1")  # a late retry never steals it
                assert not again.won and again.entry.claimed_by == winner
            assert sum(wins.values()) == rounds
            claimed = await agent1.entries(PacketState.CLAIMED)
            assert len(claimed) == rounds
            assert await agent2.entries(PacketState.WAITING) == []
    run(scenario())


def test_agent_racing_the_calls_timeout_gives_one_consistent_answer(make_bus, packet):
    async def scenario():
        async with make_bus() as call_bus, make_bus() as agent_bus:
            calls, desk = HandoffQueue(call_bus), HandoffQueue(agent_bus)
            for delay in (0.0, 0.03, 0.05, 0.07, 0.1) * 2:  # before, at and after the deadline
                call_id = (await calls.submit(copy_of(packet))).call_id

                async def late_agent():
                    await asyncio.sleep(delay)
                    return await desk.claim(call_id, "agent-late")

                result, attempt = await asyncio.gather(calls.wait_for_claim(call_id, timeout=0.05),
                                                       late_agent())
                stored = await desk.get(call_id)
                if attempt.won:
                    assert isinstance(result, Claimed) and result.agent_id == "agent-late"
                    assert stored.state == PacketState.CLAIMED
                else:
                    assert isinstance(result, Unclaimed)
                    assert stored.state == attempt.entry.state == PacketState.UNCLAIMED
    run(scenario())


def test_unclaimed_call_gets_callback_result_and_packet_stays(make_bus, packet):
    async def scenario():
        async with make_bus() as call_bus, make_bus() as desk_bus:
            calls, desk = HandoffQueue(call_bus), HandoffQueue(desk_bus)
            async with desk_bus.subscribe(desk.channel) as events:
                mine = copy_of(packet)
                await calls.submit(mine)
                result = await calls.wait_for_claim(mine.call_id, timeout=0.3)
                assert isinstance(result, Unclaimed)
                assert (result.reason, result.callback_node) == ("no_agent", CALLBACK_NODE)
                assert result.waited_s >= 0.3

                seen = [(await events.get(5))["type"] for _ in range(2)]
                assert seen == ["handoff.waiting", "handoff.unclaimed"]

            unclaimed = await desk.entries("unclaimed")
            assert [e.call_id for e in unclaimed] == [mine.call_id]
            assert unclaimed[0].packet == mine and unclaimed[0].decided_at is not None
            assert await desk.entries("waiting") == []

            late = await desk.claim(mine.call_id, "agent-late")  # the call has moved on
            assert not late.won and late.entry.state == PacketState.UNCLAIMED
            with pytest.raises(ValueError, match="already handed off"):
                await calls.submit(mine)

            kept = await calls.record_callback(mine.call_id, "2026-11-24T17:00")
            assert kept.state == PacketState.UNCLAIMED and kept.packet.callback_time == "2026-11-24T17:00"
            assert (await desk.get(mine.call_id)).packet.callback_time == "2026-11-24T17:00"

            with pytest.raises(UnknownHandoff, match="nope"):
                await desk.claim("nope", "agent-1")
            with pytest.raises(UnknownHandoff):
                await calls.wait_for_claim("nope", timeout=0.1)

            assert await desk.remove(mine.call_id)
            assert await desk.entries() == []
    run(scenario())


def test_hang_up_while_waiting_abandons_the_handoff(make_bus, packet):
    async def scenario():
        async with make_bus() as bus:
            queue = HandoffQueue(bus)
            mine = copy_of(packet)
            await queue.submit(mine)
            assert (await queue.abandon(mine.call_id)).state == PacketState.ABANDONED
            assert not (await queue.claim(mine.call_id, "agent-1")).won
            result = await queue.wait_for_claim(mine.call_id, timeout=1.0)
            assert isinstance(result, Unclaimed) and result.reason == "abandoned"
            assert [e.state for e in await queue.entries()] == [PacketState.ABANDONED]
    run(scenario())


def test_escalate_from_a_call_and_an_agent_desk_claiming_from_events(make_bus):
    """The whole path: the server escalates a real call; a desk hears the packet and claims it."""
    session, action = escalated_call()

    async def desk(bus: Bus, ready: asyncio.Event) -> None:
        queue = HandoffQueue(bus, action["queue"])
        async with bus.subscribe(queue.channel) as events:
            ready.set()
            async for event in events:
                if event["type"] == "handoff.waiting":
                    assert event["packet"]["reason"] == "request_human"
                    attempt = await queue.claim(event["call_id"], "agent-7", endpoint="sip:agent7@desk")
                    assert attempt.won
                    return

    async def scenario():
        async with make_bus() as server_bus, make_bus() as desk_bus:
            ready = asyncio.Event()
            agent = asyncio.create_task(desk(desk_bus, ready))
            await ready.wait()
            packet, result = await escalate(server_bus, session, action, timeout=10)
            await agent
            assert packet.call_id == session.call_id
            assert isinstance(result, Claimed)
            assert (result.agent_id, result.endpoint) == ("agent-7", "sip:agent7@desk")
    run(scenario())


SECOND_PROCESS = """
import asyncio, json, os
from telephony.bus import bus_from_env
from telephony.handoff import HandoffQueue

async def main():
    async with bus_from_env(os.environ) as bus:
        queue = HandoffQueue(bus)
        waiting = await queue.entries("waiting")
        unclaimed = await queue.entries("unclaimed")
        attempt = await queue.claim(waiting[0].call_id, "agent-remote")
        print(json.dumps({"waiting": [[e.call_id, e.packet.reason, e.packet.phone_masked] for e in waiting],
                          "unclaimed": [e.call_id for e in unclaimed], "won": attempt.won}))

asyncio.run(main())
"""


def test_a_second_process_sees_packets_stored_in_redis(redis_bus, redis_url, packet):
    waiting, unclaimed = copy_of(packet), copy_of(packet)

    async def store():
        async with redis_bus() as bus:  # this client is closed before the other process starts
            queue = HandoffQueue(bus)
            await queue.submit(unclaimed)
            assert isinstance(await queue.wait_for_claim(unclaimed.call_id, timeout=0.1), Unclaimed)
            await queue.submit(waiting)
    run(store())

    env = {**os.environ, "REDIS_URL": redis_url, "VOICEBOT_BUS_PREFIX": redis_bus.prefix}
    done = subprocess.run([sys.executable, "-c", SECOND_PROCESS], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"waiting": [[waiting.call_id, "request_human", "+*******0101"]],
                    "unclaimed": [unclaimed.call_id], "won": True}

    async def check():
        async with redis_bus() as bus:
            queue = HandoffQueue(bus)
            result = await queue.wait_for_claim(waiting.call_id, timeout=1.0)
            assert isinstance(result, Claimed) and result.agent_id == "agent-remote"
    run(check())

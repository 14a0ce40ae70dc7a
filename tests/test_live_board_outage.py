"""The live board and the call feeds through a Redis outage (issue 19, item 8), on a private
redis-server that the test kills, restarts, or freezes (SIGSTOP: a stalled server whose socket
stays open, the worst case for a client), and a real SQLite records store."""

from __future__ import annotations

import asyncio
import signal
import time

from conftest import CALL_DATE
from voicebot.bench.redis_server import RedisProcess
from telephony.bus.live import CallFeed
from telephony.bus.redis_bus import RedisBus
from voicebot.console import live
from voicebot.console.live import LiveBoard
from voicebot.records import RecordStore, attach_session


async def until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"the board never showed {what}"
        await asyncio.sleep(0.05)


def test_the_board_follows_calls_through_a_redis_outage(engines, accounts, tmp_path, monkeypatch):
    monkeypatch.setattr(live, "STORE_POLL_S", 0.5)  # read the store more often while the bus is away
    server = RedisProcess(tmp_path)
    server.start()
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    engine = engines["en"]

    links = {}

    def a_call(account: str):
        session = engine.start_call(accounts[account], today=CALL_DATE)
        links[session.call_id] = attach_session(store, session)
        return session

    async def scenario():
        bus = RedisBus(server.url, prefix="outage-test")
        board = LiveBoard(bus, store)
        await board.start()
        before = a_call("EN-EARLY-1")
        feed = CallFeed(bus, before)
        await feed.start()
        before.open()
        await until(lambda: before.call_id in board.calls, 5, "a call on the bus")

        server.kill()  # Redis goes away mid-call
        await until(lambda: board.unavailable is not None, 15, "that the bus is away")
        before.hear("yes this is John")  # its feed fails; the store has it
        during = a_call("EN-LATE-1")  # a call that starts while the bus is away
        during.open()
        during.hear("yes this is David")
        await asyncio.to_thread(store.flush)
        await until(lambda: during.call_id in board.calls and len(board.calls[during.call_id].turns) == 2,
                    10, "a call that started while the bus was away")
        await until(lambda: len(board.calls[before.call_id].turns) == 2, 10, "a turn said while the bus was away")
        payload = {c["call_id"]: c for c in board.snapshot()}
        assert payload[during.call_id]["ongoing"] and payload[before.call_id]["ongoing"]

        server.start()  # Redis is back: the board subscribes again
        await until(lambda: board.unavailable is None, 30, "that the bus is back")
        after = a_call("EN-MID-1")
        after_feed = CallFeed(bus, after)
        await after_feed.start()
        after.open()
        await until(lambda: after.call_id in board.calls, 10, "a call announced after the outage")
        during.hear("let me talk to a real person")
        links[during.call_id].finish()  # it ends: only the store says so (its start was never on the bus)
        await asyncio.to_thread(store.flush)
        await until(lambda: board.calls[during.call_id].ended is not None, 10, "the end of a call followed in the store")
        assert {c["call_id"]: c for c in board.snapshot()}[during.call_id]["outcome"] == "escalated"
        await feed.end()
        await after_feed.end()
        await board.stop()
        await bus.aclose()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
        store.close()


def test_a_frozen_redis_holds_neither_a_turn_nor_the_end_of_a_call(engines, accounts, tmp_path):
    server = RedisProcess(tmp_path)
    server.start()

    async def scenario():
        bus = RedisBus(server.url, prefix="frozen-test")
        session = engines["en"].start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
        feed = CallFeed(bus, session)
        await feed.start()
        session.open()
        await asyncio.sleep(0.2)
        server.proc.send_signal(signal.SIGSTOP)  # the server stops answering; its socket stays open
        try:
            started = time.monotonic()
            for line in ("yes this is John", "I can pay on Friday", "yes"):
                session.hear(line)  # never waits for the bus
            assert time.monotonic() - started < 1.0
            await asyncio.sleep(0.5)
            ending = time.monotonic()
            await feed.end()
            took = time.monotonic() - ending
        finally:
            server.proc.send_signal(signal.SIGCONT)
        assert took < CallFeed.end_wait_s + 1.0, f"the end of the call waited {took:.1f} s for a frozen bus"
        assert feed.dropped >= 1
        await bus.aclose()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()

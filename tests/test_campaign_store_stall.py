"""A stalled Redis never freezes a campaign worker (issue 19: the campaign store was a
synchronous Redis client without timeouts inside the async worker).

A real redis-server of the test's own (voicebot/bench/redis_server.py) is frozen with SIGSTOP: the
kernel still accepts connections and takes commands, and nothing ever answers, the worst case
for a client.  It is thawed with SIGCONT in a `finally`, and by a watchdog thread after
WATCHDOG_S, so code without timeouts (the old store) fails these assertions instead of hanging
the run.  Checked: a store call gives up within its timeout with a `StoreUnavailable` naming
the address and the operation; the worker's event loop keeps ticking while Redis is frozen,
at the start of a run and in the middle of a call; the outcome kept meanwhile is written once
Redis answers again.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from loguru import logger

from voicebot.bench.redis_server import RedisProcess, frozen
from telephony.campaign import (CampaignConfig, CampaignWorker, ManualClock, RedisStore, StoreUnavailable,
                                connect)
from telephony.campaign.dialer import CallAnswer, CallRequest, prepared_answer
from telephony.campaign.opt_out_journal import OptOutJournal
from telephony.campaign.opt_outs import OptOuts
from telephony.campaign.redis_client import CONNECT_TIMEOUT_S, OP_TIMEOUT_S

MONDAY_MORNING = datetime.fromisoformat("2026-11-23T10:00:00-08:00")  # inside every US window
PREFIX = "stall-test"
TIMEOUT_S = 0.5    # the test's client timeouts (production: redis_client's defaults)
WATCHDOG_S = 6.0   # thaws Redis whatever happens, so a hanging client fails instead of hanging
MAX_GAP_S = 0.3    # longest pause of the event loop tolerated on a busy 2-core machine


def short_store(server: RedisProcess) -> RedisStore:
    return RedisStore(connect(server.url, connect_timeout=TIMEOUT_S, op_timeout=TIMEOUT_S), PREFIX)


class Ticker:
    """Another task on the worker's loop, noting when it gets to run."""

    def __init__(self) -> None:
        self.at: list[float] = []

    async def run(self) -> None:
        while True:
            self.at.append(time.monotonic())
            await asyncio.sleep(0.02)

    def longest_gap(self, start: float, end: float) -> float:
        inside = [t for t in self.at if start <= t <= end]
        assert len(inside) >= 2, "the loop never ran while Redis was frozen"
        edges = [start, *inside, end]
        return max(b - a for a, b in zip(edges, edges[1:]))


@contextmanager
def logged_errors() -> Iterator[list[tuple[float, str]]]:
    seen: list[tuple[float, str]] = []
    sink = logger.add(lambda message: seen.append((time.monotonic(), str(message))), level="ERROR")
    try:
        yield seen
    finally:
        logger.remove(sink)


def test_a_store_call_on_a_frozen_redis_fails_within_its_timeout_naming_the_address(redis_server):
    defaults = connect(redis_server.url).connection_pool.connection_kwargs
    assert (defaults["socket_connect_timeout"], defaults["socket_timeout"]) == (CONNECT_TIMEOUT_S, OP_TIMEOUT_S)
    store = short_store(redis_server)
    assert store.due("spring", MONDAY_MORNING) == []  # a pooled connection, as a running worker has
    with frozen(redis_server, WATCHDOG_S):
        for call in (lambda: store.due("spring", MONDAY_MORNING), lambda: store.is_opted_out("ACC")):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match=rf"redis://127\.0\.0\.1:{redis_server.port}/0 is "
                                                       r"unreachable \((list due accounts|ask an opt-out)\)"):
                call()
            assert time.monotonic() - started < TIMEOUT_S + 0.5  # one timeout: a timeout is not retried
    assert store.due("spring", MONDAY_MORNING) == []  # thawed: the same store answers again


def test_a_worker_starting_on_a_frozen_redis_fails_fast_and_its_loop_runs(accounts, redis_server, tmp_path):
    store = short_store(redis_server)
    worker = CampaignWorker(store, FreezingDialer(None), "spring", clock=ManualClock(MONDAY_MORNING),
                            opt_outs=OptOuts(store, OptOutJournal(tmp_path / "opt-outs.jsonl")))
    ticker = Ticker()

    async def scenario() -> tuple[float, float]:
        ticking = asyncio.create_task(ticker.run())
        await asyncio.sleep(0.05)
        with frozen(redis_server, WATCHDOG_S):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match=rf"127\.0\.0\.1:{redis_server.port}/0 .*register accounts"):
                await worker.run([accounts["EN-EARLY-1"].model_copy(update={"id": "FIRST"})])
            ended = time.monotonic()
        ticking.cancel()
        return started, ended

    started, ended = asyncio.run(scenario())
    assert ended - started < TIMEOUT_S + 1.0
    assert ticker.longest_gap(started, ended) < MAX_GAP_S


@dataclass
class FreezingDialer:
    """Freezes Redis while the call is on the line, then reports the call's answer."""

    server: RedisProcess | None
    frozen_at: float | None = None
    placed: list[str] = field(default_factory=list)

    async def place(self, request: CallRequest) -> CallAnswer:
        self.placed.append(request.account.id)
        assert self.server is not None and self.server.proc is not None
        self.server.proc.send_signal(signal.SIGSTOP)
        self.frozen_at = time.monotonic()
        return prepared_answer("answered:promise_to_pay", request)


def test_redis_frozen_mid_call_stalls_nothing_and_the_outcome_is_saved_after(accounts, redis_server, tmp_path):
    """The call ends while Redis is frozen: its outcome write gives up after the timeout with a
    clear error (logged), the outcome is kept, the worker's loop never stops, and once Redis is
    thawed the outcome reaches the store, logged once."""
    store = short_store(redis_server)
    dialer = FreezingDialer(redis_server)
    worker = CampaignWorker(store, dialer, "spring", clock=ManualClock(MONDAY_MORNING),
                            config=CampaignConfig(poll_s=0.05),
                            opt_outs=OptOuts(store, OptOutJournal(tmp_path / "opt-outs.jsonl")))
    ticker = Ticker()
    watchdog = threading.Timer(WATCHDOG_S, lambda: redis_server.proc.send_signal(signal.SIGCONT))

    async def scenario() -> float:
        ticking = asyncio.create_task(ticker.run())
        run = asyncio.create_task(worker.run([accounts["EN-EARLY-1"].model_copy(update={"id": "MID"})]))
        while dialer.frozen_at is None:
            await asyncio.sleep(0.01)
        watchdog.start()
        await asyncio.sleep(3 * TIMEOUT_S + 0.5)  # frozen for several timeouts: the worker retries
        redis_server.proc.send_signal(signal.SIGCONT)
        thawed_at = time.monotonic()
        result = await asyncio.wait_for(run, 20)
        ticking.cancel()
        assert [c.outcome for c in result.calls] == ["promise_to_pay"]
        return thawed_at

    try:
        with logged_errors() as errors:
            thawed_at = asyncio.run(scenario())
    finally:
        watchdog.cancel()
        redis_server.proc.send_signal(signal.SIGCONT)
    frozen_at = dialer.frozen_at
    assert frozen_at is not None
    assert ticker.longest_gap(frozen_at, thawed_at) < MAX_GAP_S
    address = f"campaign store at redis://127.0.0.1:{redis_server.port}/0 is unreachable"
    kept = [(t, e) for t, e in errors if "could not be written to the store" in e and "MID" in e]
    assert kept and f"StoreUnavailable: {address} (record a call's result)" in kept[0][1]
    assert kept[0][0] - frozen_at < TIMEOUT_S + 1.0
    assert any("the campaign store is unreachable" in e and address in e for _, e in errors)
    assert dialer.placed == ["MID"]
    assert [c.outcome for c in store.calls("spring")] == ["promise_to_pay"]
    assert store.state("spring", "MID").final == "resolved"

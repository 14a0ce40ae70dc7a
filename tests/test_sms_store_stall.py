"""A Redis that is stopped or stalled gives the SMS store and outbox a clear error, in bounded
time (issue 19: telephony/sms raised raw redis errors, where the campaign store already said
what it could not reach and what it was doing).

A real redis-server of the test's own (conftest's `redis_server`) is frozen with SIGSTOP, or
stopped, after the SMS were planned on it: the calls that follow must raise `StoreUnavailable`
naming the SMS store (or outbox stream), its address and the operation, within the client's
timeout; once Redis answers again the same objects work on.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from voicebot.bench.redis_server import RedisProcess, frozen
from telephony.campaign import InMemoryStore, ManualClock, StoreUnavailable, connect
from telephony.sms import AFTER_CALL, RedisSmsStore, RedisStreamOutbox, SmsTriggers

MONDAY_MORNING = datetime.fromisoformat("2026-11-23T10:00:00-08:00")  # inside John's SMS window
PREFIX = "sms-stall-test"
TIMEOUT_S = 0.5  # the test's client timeouts (production: redis_client's defaults)
REFUSED = {"outcome": "refused", "tags": ["outcome:refused", "identity_confirmed"]}


def sms_on(server: RedisProcess) -> tuple[SmsTriggers, RedisSmsStore, RedisStreamOutbox]:
    client = connect(server.url, connect_timeout=TIMEOUT_S, op_timeout=TIMEOUT_S)
    store, outbox = RedisSmsStore(client, PREFIX), RedisStreamOutbox(client, f"{PREFIX}:sms:outbox")
    return SmsTriggers(store, outbox, InMemoryStore(), ManualClock(MONDAY_MORNING)), store, outbox


def test_sms_calls_on_a_frozen_redis_fail_within_the_timeout_naming_store_address_and_operation(
        accounts, redis_server):
    triggers, store, outbox = sms_on(redis_server)
    assert len(triggers.after_call(accounts["EN-EARLY-1"], REFUSED)) == 3  # a pooled connection, as a worker's
    (bill,) = triggers.send_due()
    address = rf"redis://127\.0\.0\.1:{redis_server.port}/0 is unreachable"
    with frozen(redis_server):
        for call, expected in (
                (triggers.send_due, rf"^SMS store at {address} \(take due messages\): TimeoutError"),
                (lambda: store.reserve_send("EN-EARLY-1", "id", MONDAY_MORNING, 3),
                 rf"^SMS store at {address} \(count a send against the weekly cap\)"),
                (lambda: outbox.send(bill), rf"^SMS outbox {PREFIX}:sms:outbox at {address} \(add a message\)")):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match=expected):
                call()
            assert time.monotonic() - started < TIMEOUT_S + 0.5  # one timeout: a timeout is not retried
    assert {p.trigger for p in store.pending()} == {"five_days_unpaid", "eight_days_unpaid"}  # thawed: answers again
    assert bill in outbox.read()


def test_a_stopped_redis_gives_the_sms_a_clear_error_and_they_go_on_once_it_is_back(accounts, redis_server):
    triggers, store, outbox = sms_on(redis_server)
    triggers.clock.set(datetime.fromisoformat("2026-11-23T08:00:00-08:00"))  # before the window: the bill waits
    triggers.after_call(accounts["EN-EARLY-1"], REFUSED)
    triggers.clock.set(MONDAY_MORNING)
    redis_server.stop()
    address = rf"redis://127\.0\.0\.1:{redis_server.port}/0 is unreachable"
    with pytest.raises(StoreUnavailable, match=rf"^SMS store at {address} \(take due messages\): ConnectionError"):
        triggers.send_due()
    with pytest.raises(StoreUnavailable, match=rf"^SMS outbox {PREFIX}:sms:outbox at {address} \(read the messages\)"):
        outbox.read()
    with pytest.raises(StoreUnavailable, match=rf"^SMS store at {address} \(purge old messages\)"):
        store.purge_before(MONDAY_MORNING)

    redis_server.start()  # the same port, its data kept (append-only file)
    (bill,) = triggers.send_due()
    assert bill.trigger == AFTER_CALL and outbox.read() == [bill]

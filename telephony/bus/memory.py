"""The embedded bus: asyncio queues and dictionaries in this process, no server.

It is the default so a developer machine, the demo and most tests run with nothing installed.
Everything lives in one `InProcessBus` object: create one per process (the app does, at
start-up) and hand it to the server, the handoff queue and the console.  Its atomic
primitives are atomic because each one runs without an `await` inside, so no other task can
interleave on the event loop.  State is lost when the process ends; that is what Redis is for.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from telephony.bus.base import Bus, Event, Subscription, encode_event

DEFAULT_BUFFER = 10_000


class InProcessSubscription(Subscription):
    """A bounded buffer of one subscriber.  A subscriber that stops reading loses its oldest
    events (counted in `dropped`) rather than growing memory without end, much as Redis
    disconnects a pub/sub client whose output buffer overflows."""

    def __init__(self, bus: "InProcessBus", channel: str, maxlen: int):
        super().__init__(channel)
        self._bus = bus
        self._buffer: deque[str] = deque(maxlen=maxlen)
        self._ready = asyncio.Event()
        self._open = False
        self.dropped = 0

    def _deliver(self, text: str) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(text)
        self._ready.set()

    async def open(self) -> None:
        if not self._open:
            self._bus._subscribers.setdefault(self.channel, set()).add(self)
            self._open = True

    async def get(self, timeout: float | None = None) -> Event | None:
        if not self._open:
            raise RuntimeError(f"subscription to {self.channel!r} is not open: use `async with`")
        while not self._buffer:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        text = self._buffer.popleft()
        return json.loads(text)

    async def close(self) -> None:
        if self._open:
            subscribers = self._bus._subscribers.get(self.channel)
            if subscribers is not None:
                subscribers.discard(self)
                if not subscribers:  # a call's channel is used once: its entry must not stay
                    del self._bus._subscribers[self.channel]
            self._open = False


class InProcessBus(Bus):
    description = "in-process"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, buffer: int = DEFAULT_BUFFER):
        """`clock` (seconds, monotonic) decides when leases and windows expire; tests of
        campaigns may pass a fake one."""
        self._clock = clock
        self._buffer = buffer
        self._subscribers: dict[str, set[InProcessSubscription]] = {}
        self._kv: dict[str, tuple[str, float | None]] = {}  # key -> (value, expires at)
        self._records: dict[str, dict[str, str]] = {}

    # -- events ---------------------------------------------------------------------------
    async def publish(self, channel: str, event: Mapping[str, Any]) -> None:
        text = encode_event(channel, event)
        for sub in list(self._subscribers.get(channel, ())):
            sub._deliver(text)

    def subscribe(self, channel: str) -> Subscription:
        return InProcessSubscription(self, channel, self._buffer)

    # -- key/value with expiry ------------------------------------------------------------
    def _get(self, key: str) -> str | None:
        item = self._kv.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self._clock() >= expires:
            del self._kv[key]
            return None
        return value

    def _expiry(self, ttl_ms: int | None) -> float | None:
        if ttl_ms is None:
            return None
        if ttl_ms <= 0:
            raise ValueError(f"ttl_ms must be positive, got {ttl_ms}")
        return self._clock() + ttl_ms / 1000

    async def claim_once(self, key: str, value: str, ttl_ms: int | None = None) -> bool:
        if self._get(key) is not None:
            return False
        self._kv[key] = (value, self._expiry(ttl_ms))
        return True

    async def read_claims(self, keys: Sequence[str]) -> list[str | None]:
        return [self._get(k) for k in keys]

    async def acquire_lease(self, key: str, owner: str, ttl_ms: int) -> bool:
        current = self._get(key)
        if current is not None and current != owner:
            return False
        self._kv[key] = (owner, self._expiry(ttl_ms))
        return True

    async def renew_lease(self, key: str, owner: str, ttl_ms: int) -> bool:
        if self._get(key) != owner:
            return False
        self._kv[key] = (owner, self._expiry(ttl_ms))
        return True

    async def release_lease(self, key: str, owner: str) -> bool:
        if self._get(key) != owner:
            return False
        del self._kv[key]
        return True

    async def delete(self, *keys: str) -> int:
        gone = 0
        for key in keys:
            if self._get(key) is not None:
                del self._kv[key]
                gone += 1
        return gone

    async def incr(self, key: str, amount: int = 1, ttl_ms: int | None = None) -> int:
        current = self._get(key)
        if current is None:
            value, expires = amount, self._expiry(ttl_ms)
        else:
            value, expires = int(current) + amount, self._kv[key][1]
        self._kv[key] = (str(value), expires)
        return value

    async def counter(self, key: str) -> int:
        return int(self._get(key) or 0)

    # -- records --------------------------------------------------------------------------
    async def put_record(self, collection: str, record_id: str, data: str) -> None:
        self._records.setdefault(collection, {})[record_id] = data

    async def get_record(self, collection: str, record_id: str) -> str | None:
        return self._records.get(collection, {}).get(record_id)

    async def records(self, collection: str) -> dict[str, str]:
        return dict(self._records.get(collection, {}))

    async def delete_record(self, collection: str, record_id: str) -> bool:
        return self._records.get(collection, {}).pop(record_id, None) is not None

    async def collections(self, prefix: str = "") -> list[str]:
        return sorted(name for name, records in self._records.items() if records and name.startswith(prefix))

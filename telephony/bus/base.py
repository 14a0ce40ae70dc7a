"""The live bus contract: JSON events on named channels plus a few atomic primitives.

Why one small interface: the media-stream server, the human handoff, campaigns and the web
console all need to tell each other things *now* (a turn was heard, a call ended, a packet is
waiting) and to agree on who owns something (this agent took that call, this worker is dialling
that account).  On one machine an asyncio implementation does it with no server; across
processes and machines the same calls go to Redis.  Code above the bus never knows which.

What the primitives promise (both implementations, tested alike):

- `publish` / `subscribe`: at-most-once delivery to subscribers that are subscribed *when the
  event is published*, in publish order per publisher.  Events are JSON objects; nothing is
  stored.  Anything that must survive a restart or a missed message goes into a record or a
  claim, and events are only a hint to look again.
- `claim_once(key, value)`: the first caller wins, for ever (or until `ttl_ms`); every other
  caller gets False, however many race.  The winner's value is readable by all.
- leases: a claim that expires unless its owner renews it, so work held by a dead worker
  returns to the others.
- counters: atomic increments with an optional window (frequency caps).
- records: small JSON documents kept by id in a named collection (handoff packets); on Redis
  they are stored, not published, so they outlive the process that wrote them.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

Event = dict[str, Any]


class BusError(RuntimeError):
    """The bus refused an operation (e.g. a Redis error reply); the message says where."""


class BusUnavailable(BusError):
    """The bus backend cannot be reached; the message names the URL and the operation."""


def encode_event(channel: str, event: Mapping[str, Any]) -> str:
    """JSON text of an event, checked the same way by every implementation.

    The in-process bus encodes too, so an event that would break on Redis (a datetime, a
    set) breaks in development as well, at the publish that sent it."""
    if not isinstance(event, Mapping):
        raise TypeError(f"event on channel {channel!r} must be a JSON object, not {type(event).__name__}")
    try:
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"event on channel {channel!r} is not JSON-serialisable: {exc}") from None


class Subscription(ABC):
    """Events of one channel, from the moment the subscription is entered.

    Use as `async with bus.subscribe("calls") as sub:`; entering waits until the backend
    confirms the subscription, so an event published after that is never missed."""

    def __init__(self, channel: str):
        self.channel = channel

    @abstractmethod
    async def open(self) -> None:
        """Subscribe (idempotent); `async with` calls it."""

    @abstractmethod
    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when `timeout` seconds pass first (None: wait for ever)."""

    @abstractmethod
    async def close(self) -> None:
        """Unsubscribe and free the connection (idempotent)."""

    async def __aenter__(self) -> "Subscription":
        await self.open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self.get(None)
            if event is not None:
                yield event


class Bus(ABC):
    """Live events and shared ownership for one deployment (see the module docstring)."""

    #: "in-process" or the Redis URL without its password: for logs and error messages.
    description: str

    # -- events ---------------------------------------------------------------------------
    @abstractmethod
    async def publish(self, channel: str, event: Mapping[str, Any]) -> None:
        """Send a JSON object to everyone subscribed to `channel` right now."""

    @abstractmethod
    def subscribe(self, channel: str) -> Subscription:
        """A subscription to enter with `async with` (not yet subscribed when returned)."""

    # -- claims and leases ----------------------------------------------------------------
    @abstractmethod
    async def claim_once(self, key: str, value: str, ttl_ms: int | None = None) -> bool:
        """Set `key` to `value` only if unset; True for exactly one of any number of racers."""

    @abstractmethod
    async def read_claims(self, keys: Sequence[str]) -> list[str | None]:
        """Current values of claim or lease keys (None where unset or expired), in order."""

    async def read_claim(self, key: str) -> str | None:
        return (await self.read_claims([key]))[0]

    @abstractmethod
    async def acquire_lease(self, key: str, owner: str, ttl_ms: int) -> bool:
        """Take `key` for `ttl_ms` if free, or extend it if `owner` already holds it."""

    @abstractmethod
    async def renew_lease(self, key: str, owner: str, ttl_ms: int) -> bool:
        """Extend a lease `owner` still holds; False if it expired or someone else has it."""

    @abstractmethod
    async def release_lease(self, key: str, owner: str) -> bool:
        """Give a lease back early; only its owner can (False otherwise)."""

    @abstractmethod
    async def delete(self, *keys: str) -> int:
        """Remove claims, leases or counters (clean-up only: a deleted claim can be won again)."""

    # -- counters -------------------------------------------------------------------------
    @abstractmethod
    async def incr(self, key: str, amount: int = 1, ttl_ms: int | None = None) -> int:
        """Add atomically and return the new value.  `ttl_ms` starts a window when the
        counter is created (fixed window: later increments do not extend it)."""

    @abstractmethod
    async def counter(self, key: str) -> int:
        """Current value (0 when unset or expired)."""

    # -- records --------------------------------------------------------------------------
    @abstractmethod
    async def put_record(self, collection: str, record_id: str, data: str) -> None:
        """Store (or replace) a JSON document under an id; kept until deleted."""

    @abstractmethod
    async def get_record(self, collection: str, record_id: str) -> str | None: ...

    @abstractmethod
    async def records(self, collection: str) -> dict[str, str]:
        """Every record of a collection, id -> JSON text."""

    @abstractmethod
    async def delete_record(self, collection: str, record_id: str) -> bool: ...

    @abstractmethod
    async def collections(self, prefix: str = "") -> list[str]:
        """Names of the collections holding records whose name starts with `prefix`, sorted:
        how a clean-up finds every agent queue, including queues no script names any more."""

    # -- lifecycle ------------------------------------------------------------------------
    async def check(self) -> None:
        """Raise `BusUnavailable` now if the backend cannot be reached (server start-up)."""

    async def aclose(self) -> None:
        """Release connections; the bus is not used afterwards."""

    async def __aenter__(self) -> "Bus":
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"

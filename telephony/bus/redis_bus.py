"""The scale-out bus: Redis pub/sub for events, SET NX/PX and small Lua scripts for ownership.

Several server processes, agent desks and campaign workers on several machines share one
Redis.  Every key and channel carries a prefix (default `voicebot:`) so deployments and test
runs can share a server without seeing each other.

A dead or unreachable Redis must fail the call that needed it, quickly and by name, not hang a
phone call: sockets have short timeouts, redis-py's default retry (ten attempts with backoff,
many seconds against a dead port) is cut to one quick retry, and every operation is bounded
by an overall deadline.  Failures surface as `BusUnavailable("... redis://host:port/0 ...")`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from telephony.bus.base import Bus, BusError, BusUnavailable, Event, Subscription, encode_event
from telephony.metrics import BUS_FAILURES

T = TypeVar("T")

DEFAULT_PREFIX = "voicebot:"

# Take the lease if free, extend it if the caller holds it.  ARGV: owner, ttl_ms, create(0|1).
_LEASE = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current == false and ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# Delete only if the caller still owns it (no release of someone else's lease).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# Increment; start the window when the counter is new.  ARGV: amount, ttl_ms (0 = none).
_INCR = """
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n
"""


def prefix_pattern(prefix: str) -> str:
    """A SCAN MATCH pattern for the keys (or hash fields) that start with `prefix`, taken
    literally: a prefix or account id holding `*`, `?` or `[` must not match other keys."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"


def redact_url(url: str) -> str:
    """The URL without its password, fit for an error message or a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


class RedisSubscription(Subscription):
    def __init__(self, bus: "RedisBus", channel: str):
        super().__init__(channel)
        self._bus = bus
        self._pubsub: Any = None

    async def open(self) -> None:
        if self._pubsub is not None:
            return
        pubsub = self._bus._client.pubsub()
        name = self._bus._key(self.channel)

        async def subscribe_and_confirm() -> None:
            # Wait for Redis's own confirmation: only then is an event published by another
            # connection guaranteed to reach us.
            await pubsub.subscribe(name)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._bus.op_timeout
            while loop.time() < deadline:
                message = await pubsub.get_message(timeout=max(0.0, deadline - loop.time()))
                if message and message.get("type") == "subscribe":
                    return
            raise RedisTimeoutError("no subscribe confirmation")

        try:
            await self._bus._guard(f"subscribe to {self.channel!r}", subscribe_and_confirm())
        except BaseException:
            await pubsub.aclose()
            raise
        self._pubsub = pubsub

    async def get(self, timeout: float | None = None) -> Event | None:
        if self._pubsub is None:
            raise RuntimeError(f"subscription to {self.channel!r} is not open: use `async with`")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            # Wait in slices so a dead connection is noticed even when no timeout was given.
            remaining = self._bus.op_timeout if deadline is None else deadline - loop.time()
            if remaining <= 0:
                return None
            slice_s = min(remaining, self._bus.op_timeout)
            message = await self._bus._guard(
                f"read channel {self.channel!r}", self._pubsub.get_message(timeout=slice_s),
                extra_s=slice_s)
            if message is None or message.get("type") != "message":
                continue
            data = message["data"]
            return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)

    async def close(self) -> None:
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            try:
                await pubsub.aclose()
            except (RedisError, OSError):
                pass  # closing a dead connection: nothing to give back


class RedisBus(Bus):
    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, connect_timeout: float = 2.0,
                 op_timeout: float = 5.0):
        """No connection is made here; `check()` (or the first operation) connects.

        `connect_timeout` bounds reaching the server, `op_timeout` one command's reply."""
        self.url = url
        self.description = redact_url(url)
        self.prefix = prefix
        self.connect_timeout = connect_timeout
        self.op_timeout = op_timeout
        try:
            self._client = aioredis.Redis.from_url(
                url, socket_connect_timeout=connect_timeout, socket_timeout=op_timeout,
                retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
                health_check_interval=15)
        except ValueError as exc:
            raise BusError(f"bad Redis URL {self.description!r}: {exc}") from None
        self._lease = self._client.register_script(_LEASE)
        self._release = self._client.register_script(_RELEASE)
        self._incr = self._client.register_script(_INCR)

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _record_key(self, collection: str) -> str:
        return self.prefix + "records:" + collection

    async def _guard(self, op: str, awaitable: Awaitable[T], extra_s: float = 0.0) -> T:
        """Run one Redis operation; turn every way it can fail into a message naming the URL."""
        # Two connection attempts (one retry) plus one reply, with some slack.
        limit = 2 * self.connect_timeout + self.op_timeout + extra_s + 1.0
        try:
            return await asyncio.wait_for(awaitable, limit)
        except (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError) as exc:
            BUS_FAILURES.labels(reason="unavailable").inc()
            detail = str(exc) or type(exc).__name__
            raise BusUnavailable(f"Redis bus at {self.description} is unreachable "
                                 f"({op}): {detail}") from exc
        except InvalidResponse as exc:
            BUS_FAILURES.labels(reason="unavailable").inc()
            raise BusUnavailable(f"Redis bus at {self.description}: the server there does not speak "
                                 f"Redis ({op}): {exc}") from exc
        except RedisError as exc:
            BUS_FAILURES.labels(reason="refused").inc()
            raise BusError(f"Redis bus at {self.description} refused {op}: {exc}") from exc

    @staticmethod
    def _text(value: bytes | str | None) -> str | None:
        return value.decode("utf-8") if isinstance(value, bytes) else value

    # -- events ---------------------------------------------------------------------------
    async def publish(self, channel: str, event: Mapping[str, Any]) -> None:
        text = encode_event(channel, event)
        await self._guard(f"publish on {channel!r}", self._client.publish(self._key(channel), text))

    def subscribe(self, channel: str) -> Subscription:
        return RedisSubscription(self, channel)

    # -- claims and leases ----------------------------------------------------------------
    async def claim_once(self, key: str, value: str, ttl_ms: int | None = None) -> bool:
        done = await self._guard(f"claim {key!r}",
                                 self._client.set(self._key(key), value, nx=True, px=ttl_ms))
        return bool(done)

    async def read_claims(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        values = await self._guard("read claims", self._client.mget([self._key(k) for k in keys]))
        return [self._text(v) for v in values]

    async def acquire_lease(self, key: str, owner: str, ttl_ms: int) -> bool:
        done = await self._guard(f"acquire lease {key!r}",
                                 self._lease(keys=[self._key(key)], args=[owner, int(ttl_ms), 1]))
        return bool(done)

    async def renew_lease(self, key: str, owner: str, ttl_ms: int) -> bool:
        done = await self._guard(f"renew lease {key!r}",
                                 self._lease(keys=[self._key(key)], args=[owner, int(ttl_ms), 0]))
        return bool(done)

    async def release_lease(self, key: str, owner: str) -> bool:
        done = await self._guard(f"release lease {key!r}",
                                 self._release(keys=[self._key(key)], args=[owner]))
        return bool(done)

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(await self._guard("delete keys", self._client.delete(*(self._key(k) for k in keys))))

    # -- counters -------------------------------------------------------------------------
    async def incr(self, key: str, amount: int = 1, ttl_ms: int | None = None) -> int:
        return int(await self._guard(f"increment {key!r}",
                                     self._incr(keys=[self._key(key)], args=[int(amount), int(ttl_ms or 0)])))

    async def counter(self, key: str) -> int:
        return int(self._text(await self._guard(f"read counter {key!r}", self._client.get(self._key(key)))) or 0)

    # -- records --------------------------------------------------------------------------
    async def put_record(self, collection: str, record_id: str, data: str) -> None:
        await self._guard(f"store record {collection}/{record_id}",
                          self._client.hset(self._record_key(collection), record_id, data))

    async def get_record(self, collection: str, record_id: str) -> str | None:
        return self._text(await self._guard(f"read record {collection}/{record_id}",
                                            self._client.hget(self._record_key(collection), record_id)))

    async def records(self, collection: str) -> dict[str, str]:
        raw = await self._guard(f"list records {collection}", self._client.hgetall(self._record_key(collection)))
        return {self._text(k): self._text(v) for k, v in raw.items()}  # type: ignore[misc]

    async def delete_record(self, collection: str, record_id: str) -> bool:
        return bool(await self._guard(f"delete record {collection}/{record_id}",
                                      self._client.hdel(self._record_key(collection), record_id)))

    async def collections(self, prefix: str = "") -> list[str]:
        start = self._record_key("")
        pattern = prefix_pattern(start + prefix)

        async def scan() -> list[str]:
            return [self._text(key)[len(start):] async for key in self._client.scan_iter(match=pattern, count=500)]
        return sorted(set(await self._guard(f"list collections {prefix}*", scan(), extra_s=self.op_timeout)))

    # -- lifecycle ------------------------------------------------------------------------
    async def check(self) -> None:
        await self._guard("ping", self._client.ping())

    async def aclose(self) -> None:
        try:
            await self._client.aclose()
        except (RedisError, OSError):
            pass

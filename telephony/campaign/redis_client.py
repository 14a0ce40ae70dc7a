"""The campaign's Redis connection: short timeouts, and failures that say where Redis is.

One client serves the campaign store, the SMS store and the SMS outbox stream (telephony/sms
builds on this package), and all three report an unreachable Redis the same way here.

Why: the campaign store's client is synchronous and the worker is asyncio; without timeouts a
Redis that stops answering (paused, swapping, a half-dead network path) held a call for ever.
Every connection made here gives up after `connect_timeout` to connect and `op_timeout` for a
reply, and the worker runs store calls off its event loop (worker.py), so a stall costs one
timeout and never freezes the calls in progress.

Retries: one quick retry on a connection error (a pooled socket left dead by a Redis restart),
none on a timeout: the command may have run, and the settle script appends the call's log
entry, so running it twice would log the call twice.  This matches telephony/bus/redis_bus.py
(short socket timeouts, one retry, errors naming the URL) for the campaign's own client.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from telephony.bus.redis_bus import redact_url
from telephony.campaign.store import StoreUnavailable
from telephony.metrics import REDIS_STORE_FAILURES

CONNECT_TIMEOUT_S = 2.0
OP_TIMEOUT_S = 5.0  # a Lua script over one account, or a pipeline of a few commands, takes ms

#: What a Redis that cannot be reached raises (BusyLoadingError, a restart still loading its
#: data, is a ConnectionError).
REDIS_DOWN: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError, OSError)


def connect(url: str, *, connect_timeout: float = CONNECT_TIMEOUT_S, op_timeout: float = OP_TIMEOUT_S) -> redis.Redis:
    """A client as the campaign and SMS stores expect it: strings, not bytes, and bounded waits."""
    try:
        return redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=connect_timeout, socket_timeout=op_timeout,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1, supported_errors=(redis.ConnectionError,)))
    except ValueError as exc:
        raise StoreUnavailable(f"bad Redis URL {redact_url(url)!r}: {exc}") from None


def describe(client: redis.Redis) -> str:
    """Where a client connects, as a URL without its password (for messages)."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


class _Described(Protocol):
    store_name: str   # what could not be reached: "campaign store", "SMS store", "SMS outbox"
    description: str  # where it is: `describe(client)`


S = TypeVar("S", bound=_Described)
P = ParamSpec("P")
R = TypeVar("R")


def store_operation(what: str) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Decorate a store method so that an unreachable or stalled Redis raises StoreUnavailable
    naming the store, its address and `what` was being done, instead of a bare socket error."""
    def decorate(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        @functools.wraps(method)
        def guarded(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(self, *args, **kwargs)
            except REDIS_DOWN as exc:
                REDIS_STORE_FAILURES.labels(store=self.store_name).inc()
                detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                raise StoreUnavailable(f"{self.store_name} at {self.description} is unreachable ({what}): "
                                       f"{detail}") from exc
        return guarded
    return decorate


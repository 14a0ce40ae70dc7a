"""Pending and sent SMS, shared by every worker (Redis) or kept in one process (memory).

Redis keys (PREFIX as the campaign store's):

  PREFIX:sms:first_reminder   HASH  account id -> epoch of the first reminder call (delays count from it)
  PREFIX:sms:pending          ZSET  "ACCOUNT:TRIGGER" -> epoch when it may go (or, while a worker is
                                    sending it, when it reappears if that worker died)
  PREFIX:sms:pending:data     HASH  "ACCOUNT:TRIGGER" -> PendingSms JSON
  PREFIX:sms:done             HASH  "ACCOUNT:TRIGGER" -> "sent ISO" | "cancelled:REASON ISO" (fires once)
  PREFIX:sms:sent:ACCOUNT     ZSET  message id -> epoch sent (the weekly cap, across workers)
  PREFIX:sms:outbox           STREAM the outbox, when the Redis outbox is used

Every entry names its account, and a waiting message holds the whole account (name, phone,
debt), so both stores can give up what is past the retention period (`purge_before`) or one
account's entries (`erase_account`); voicebot/records/retention.py calls them.  Past the
period an account's triggers may fire again, as for a new debt: the marks that stopped them
are personal data like the rest.

The Redis client must come from `telephony.campaign.redis_client.connect` (short timeouts,
shared with the campaign store); every operation turns an unreachable or stalled Redis into
`StoreUnavailable` naming the SMS store's address and what was being done.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import redis

from telephony.bus.redis_bus import prefix_pattern
from telephony.campaign.clock import utc
from telephony.campaign.redis_client import describe, store_operation
from telephony.sms.models import PendingSms

WEEK = timedelta(days=7)


def _epoch(at: datetime) -> float:
    return utc(at).timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), timezone.utc)


def _done_epoch(mark: str) -> float:
    """When a message was completed: a done mark is "STATUS ISO" (the status may hold spaces)."""
    return datetime.fromisoformat(mark.rsplit(" ", 1)[-1]).timestamp()


def _of(key: str, account_id: str) -> bool:
    """Is "ACCOUNT:TRIGGER" one of this account's?  (An account id may itself hold a colon.)"""
    return key.rpartition(":")[0] == account_id


@dataclass
class SmsRemoval:
    """What a purge or an erasure took from an SMS store (a dry run: would take), per kind."""

    pending: int = 0         # messages waiting to go: each holds the account (name, phone, debt)
    done: int = 0            # "sent" / "cancelled" marks of an account's triggers
    sent: int = 0            # send times the weekly cap counts
    first_reminder: int = 0  # first reminder calls, which the 5- and 8-day triggers count from


class SmsStore(Protocol):
    def mark_first_reminder(self, account_id: str, at: datetime) -> bool:
        """Record the first reminder; False (and no change) if there already was one."""
        ...

    def first_reminder(self, account_id: str) -> datetime | None: ...
    def schedule(self, msg: PendingSms) -> bool:
        """Queue a message unless this account's trigger is already queued or done."""
        ...

    def take_due(self, now: datetime, limit: int = 100) -> list[PendingSms]:
        """Due messages, each handed to one caller only (hidden until `now + in_flight`)."""
        ...

    def reschedule(self, msg: PendingSms) -> None: ...
    def complete(self, msg: PendingSms, status: str, at: datetime) -> None: ...
    def reserve_send(self, account_id: str, message_id: str, now: datetime, cap: int) -> datetime | None:
        """Count a send against the weekly cap: None if reserved, else when the cap frees up."""
        ...

    def unreserve(self, account_id: str, message_id: str) -> None: ...
    def pending(self) -> list[PendingSms]: ...
    def next_due(self) -> datetime | None: ...
    def done(self) -> dict[str, str]: ...

    def purge_before(self, cutoff: datetime, *, dry_run: bool = False) -> SmsRemoval:
        """Remove what dates from before `cutoff` (the retention purge): messages that were due
        before it and never went, done marks, weekly-cap send times and first reminders."""
        ...

    def erase_account(self, account_id: str, *, dry_run: bool = False) -> SmsRemoval:
        """Remove every entry of one account, whatever its age (the right to erasure)."""
        ...


class InMemorySmsStore:
    def __init__(self, in_flight_s: float = 120.0):
        self._lock = threading.RLock()
        self.in_flight = timedelta(seconds=in_flight_s)
        self._first: dict[str, float] = {}
        self._due: dict[str, float] = {}
        self._data: dict[str, PendingSms] = {}
        self._done: dict[str, str] = {}
        self._sent: dict[str, dict[str, float]] = {}

    def mark_first_reminder(self, account_id: str, at: datetime) -> bool:
        with self._lock:
            if account_id in self._first:
                return False
            self._first[account_id] = _epoch(at)
            return True

    def first_reminder(self, account_id: str) -> datetime | None:
        value = self._first.get(account_id)
        return None if value is None else _dt(value)

    def schedule(self, msg: PendingSms) -> bool:
        with self._lock:
            if msg.key in self._data or msg.key in self._done:
                return False
            self._data[msg.key], self._due[msg.key] = msg, _epoch(msg.due_at)
            return True

    def take_due(self, now: datetime, limit: int = 100) -> list[PendingSms]:
        with self._lock:
            at = _epoch(now)
            keys = sorted((v, k) for k, v in self._due.items() if v <= at)[:limit]
            for _, key in keys:
                self._due[key] = _epoch(now + self.in_flight)
            return [self._data[k].model_copy(deep=True) for _, k in keys]

    def reschedule(self, msg: PendingSms) -> None:
        with self._lock:
            if msg.key in self._data:
                self._data[msg.key], self._due[msg.key] = msg, _epoch(msg.due_at)

    def complete(self, msg: PendingSms, status: str, at: datetime) -> None:
        with self._lock:
            self._data.pop(msg.key, None)
            self._due.pop(msg.key, None)
            self._done[msg.key] = f"{status} {utc(at).isoformat()}"

    def reserve_send(self, account_id: str, message_id: str, now: datetime, cap: int) -> datetime | None:
        with self._lock:
            sent = self._sent.setdefault(account_id, {})
            week = sorted(v for v in sent.values() if v > _epoch(now - WEEK))
            if len(week) >= cap:
                return _dt(week[-cap]) + WEEK
            sent[message_id] = _epoch(now)
            return None

    def unreserve(self, account_id: str, message_id: str) -> None:
        with self._lock:
            self._sent.get(account_id, {}).pop(message_id, None)

    def pending(self) -> list[PendingSms]:
        with self._lock:
            return [self._data[k].model_copy(deep=True) for k in sorted(self._data, key=self._due.get)]

    def next_due(self) -> datetime | None:
        with self._lock:
            return _dt(min(self._due.values())) if self._due else None

    def done(self) -> dict[str, str]:
        return dict(self._done)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"first": self._first, "due": self._due, "done": self._done, "sent": self._sent,
                    "data": {k: v.model_dump(mode="json") for k, v in self._data.items()}}

    def load_json(self, data: dict[str, Any]) -> None:
        with self._lock:
            self._first = dict(data.get("first", {}))
            self._due = dict(data.get("due", {}))
            self._done = dict(data.get("done", {}))
            self._sent = {k: dict(v) for k, v in data.get("sent", {}).items()}
            self._data = {k: PendingSms.model_validate(v) for k, v in data.get("data", {}).items()}

    def purge_before(self, cutoff: datetime, *, dry_run: bool = False) -> SmsRemoval:
        at = _epoch(cutoff)
        with self._lock:
            return self._drop(pending=[k for k, due in self._due.items() if due < at],
                              done=[k for k, mark in self._done.items() if _done_epoch(mark) < at],
                              sent={a: [m for m, t in ids.items() if t < at] for a, ids in self._sent.items()},
                              first=[a for a, t in self._first.items() if t < at], dry_run=dry_run)

    def erase_account(self, account_id: str, *, dry_run: bool = False) -> SmsRemoval:
        with self._lock:
            return self._drop(pending=[k for k in self._data if _of(k, account_id)],
                              done=[k for k in self._done if _of(k, account_id)],
                              sent={account_id: list(self._sent.get(account_id, {}))},
                              first=[account_id] if account_id in self._first else [], dry_run=dry_run)

    def _drop(self, *, pending: list[str], done: list[str], sent: dict[str, list[str]], first: list[str],
              dry_run: bool) -> SmsRemoval:
        """Count, and unless `dry_run` remove: pending and done keys, sent ids per account, first reminders."""
        removal = SmsRemoval(len(pending), len(done), sum(map(len, sent.values())), len(first))
        if dry_run:
            return removal
        for key in pending:
            self._data.pop(key, None)
            self._due.pop(key, None)
        for key in done:
            del self._done[key]
        for account_id, ids in sent.items():
            left = self._sent.get(account_id, {})
            for message_id in ids:
                left.pop(message_id, None)
            if not left:
                self._sent.pop(account_id, None)
        for account_id in first:
            del self._first[account_id]
        return removal


# KEYS: pending, data   ARGV: now, hidden until, limit
_TAKE = """
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, k in ipairs(keys) do
  redis.call('ZADD', KEYS[1], ARGV[2], k)
  local data = redis.call('HGET', KEYS[2], k)
  if data then table.insert(out, data) else redis.call('ZREM', KEYS[1], k) end
end
return out
"""

# KEYS: pending, data, done   ARGV: key, due, json
_SCHEDULE = """
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"""

# KEYS: sent   ARGV: now, week ago, cap, id
_RESERVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - 35 * 86400)
local week = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf', 'WITHSCORES')
local n = #week / 2
local cap = tonumber(ARGV[3])
if n >= cap then return week[(n - cap) * 2 + 2] end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
return false
"""


class RedisSmsStore:
    store_name = "SMS store"
    #: Entries per command when a purge removes many (a first purge may meet a year of them).
    chunk = 500

    def __init__(self, client: redis.Redis, prefix: str = "voicebot", in_flight_s: float = 120.0):
        """`client`: from `redis_client.connect(url)` (decoded strings, short timeouts)."""
        self.r, self.prefix = client, prefix
        self.description = describe(client)
        self.in_flight = timedelta(seconds=in_flight_s)
        self._take = client.register_script(_TAKE)
        self._schedule = client.register_script(_SCHEDULE)
        self._reserve = client.register_script(_RESERVE)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, "sms", *parts))

    @store_operation("record a first reminder")
    def mark_first_reminder(self, account_id: str, at: datetime) -> bool:
        return bool(self.r.hsetnx(self.key("first_reminder"), account_id, repr(_epoch(at))))

    @store_operation("read a first reminder")
    def first_reminder(self, account_id: str) -> datetime | None:
        value = self.r.hget(self.key("first_reminder"), account_id)
        return None if value is None else _dt(float(value))

    @store_operation("queue a message")
    def schedule(self, msg: PendingSms) -> bool:
        return bool(self._schedule(keys=[self.key("pending"), self.key("pending", "data"), self.key("done")],
                                   args=[msg.key, repr(_epoch(msg.due_at)), msg.model_dump_json()]))

    @store_operation("take due messages")
    def take_due(self, now: datetime, limit: int = 100) -> list[PendingSms]:
        raw = self._take(keys=[self.key("pending"), self.key("pending", "data")],
                         args=[repr(_epoch(now)), repr(_epoch(now + self.in_flight)), limit])
        return [PendingSms.model_validate_json(v) for v in raw]

    @store_operation("hold a message")
    def reschedule(self, msg: PendingSms) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.key("pending", "data"), msg.key, msg.model_dump_json())
        pipe.zadd(self.key("pending"), {msg.key: _epoch(msg.due_at)})
        pipe.execute()

    @store_operation("complete a message")
    def complete(self, msg: PendingSms, status: str, at: datetime) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.zrem(self.key("pending"), msg.key)
        pipe.hdel(self.key("pending", "data"), msg.key)
        pipe.hset(self.key("done"), msg.key, f"{status} {utc(at).isoformat()}")
        pipe.execute()

    @store_operation("count a send against the weekly cap")
    def reserve_send(self, account_id: str, message_id: str, now: datetime, cap: int) -> datetime | None:
        oldest = self._reserve(keys=[self.key("sent", account_id)],
                               args=[repr(_epoch(now)), repr(_epoch(now - WEEK)), cap, message_id])
        return None if oldest is None else _dt(float(oldest)) + WEEK

    @store_operation("give a send back")
    def unreserve(self, account_id: str, message_id: str) -> None:
        self.r.zrem(self.key("sent", account_id), message_id)

    @store_operation("list waiting messages")
    def pending(self) -> list[PendingSms]:
        order = self.r.zrange(self.key("pending"), 0, -1)
        data = self.r.hgetall(self.key("pending", "data"))
        return [PendingSms.model_validate_json(data[k]) for k in order if k in data]

    @store_operation("find the next due message")
    def next_due(self) -> datetime | None:
        first = self.r.zrange(self.key("pending"), 0, 0, withscores=True)
        return _dt(first[0][1]) if first else None

    @store_operation("read sent and cancelled messages")
    def done(self) -> dict[str, str]:
        return dict(self.r.hgetall(self.key("done")))

    # -- retention ------------------------------------------------------------------------
    @store_operation("purge old messages")
    def purge_before(self, cutoff: datetime, *, dry_run: bool = False) -> SmsRemoval:
        at = _epoch(cutoff)
        sent_keys = set(self.r.scan_iter(match=prefix_pattern(self.key("sent", "")), count=self.chunk))
        return self._drop(
            pending=self.r.zrangebyscore(self.key("pending"), "-inf", f"({at!r}"),
            done=[k for k, mark in self.r.hscan_iter(self.key("done"), count=self.chunk) if _done_epoch(mark) < at],
            sent={key: self.r.zrangebyscore(key, "-inf", f"({at!r}") for key in sent_keys},
            first=[k for k, t in self.r.hscan_iter(self.key("first_reminder"), count=self.chunk) if float(t) < at],
            dry_run=dry_run)

    @store_operation("erase an account's messages")
    def erase_account(self, account_id: str, *, dry_run: bool = False) -> SmsRemoval:
        match, sent = prefix_pattern(f"{account_id}:"), self.key("sent", account_id)
        queued = {k for k, _ in self.r.zscan_iter(self.key("pending"), match=match)}
        queued |= {k for k, _ in self.r.hscan_iter(self.key("pending", "data"), match=match)}
        return self._drop(
            pending=[k for k in queued if _of(k, account_id)],
            done=[k for k, _ in self.r.hscan_iter(self.key("done"), match=match) if _of(k, account_id)],
            sent={sent: self.r.zrange(sent, 0, -1)},
            first=[account_id] if self.r.hexists(self.key("first_reminder"), account_id) else [],
            dry_run=dry_run)

    def _drop(self, *, pending: list[str], done: list[str], sent: dict[str, list[str]], first: list[str],
              dry_run: bool) -> SmsRemoval:
        """Count, and unless `dry_run` remove, in chunks: each command is atomic, and what a
        failure leaves is found again by the next run."""
        removal = SmsRemoval(len(pending), len(done), sum(map(len, sent.values())), len(first))
        if dry_run:
            return removal
        pipe = self.r.pipeline(transaction=False)
        for keys in _chunks(pending, self.chunk):
            pipe.zrem(self.key("pending"), *keys)
            pipe.hdel(self.key("pending", "data"), *keys)
        for keys in _chunks(done, self.chunk):
            pipe.hdel(self.key("done"), *keys)
        for key, ids in sent.items():
            for chunk in _chunks(ids, self.chunk):
                pipe.zrem(key, *chunk)
        for keys in _chunks(first, self.chunk):
            pipe.hdel(self.key("first_reminder"), *keys)
        pipe.execute()
        return removal


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    return (items[i:i + size] for i in range(0, len(items), size))

"""Pending and sent SMS, shared by every worker (Redis) or kept in one process (memory).

Redis keys (PREFIX as the campaign store's):

  PREFIX:sms:first_reminder   HASH  account id -> epoch of the first reminder call (delays count from it)
  PREFIX:sms:pending          ZSET  "ACCOUNT:TRIGGER" -> epoch when it may go (or, while a worker is
                                    sending it, when it reappears if that worker died)
  PREFIX:sms:pending:data     HASH  "ACCOUNT:TRIGGER" -> PendingSms JSON
  PREFIX:sms:done             HASH  "ACCOUNT:TRIGGER" -> "sent ISO" | "cancelled:REASON ISO" (fires once)
  PREFIX:sms:sent:ACCOUNT     ZSET  message id -> epoch sent (the weekly cap, across workers)
  PREFIX:sms:outbox           STREAM the outbox, when the Redis outbox is used
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import redis

from telephony.campaign.clock import utc
from telephony.sms.models import PendingSms

WEEK = timedelta(days=7)


def _epoch(at: datetime) -> float:
    return utc(at).timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), timezone.utc)


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
    def __init__(self, client: redis.Redis, prefix: str = "voicebot", in_flight_s: float = 120.0):
        self.r, self.prefix = client, prefix
        self.in_flight = timedelta(seconds=in_flight_s)
        self._take = client.register_script(_TAKE)
        self._schedule = client.register_script(_SCHEDULE)
        self._reserve = client.register_script(_RESERVE)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, "sms", *parts))

    def mark_first_reminder(self, account_id: str, at: datetime) -> bool:
        return bool(self.r.hsetnx(self.key("first_reminder"), account_id, repr(_epoch(at))))

    def first_reminder(self, account_id: str) -> datetime | None:
        value = self.r.hget(self.key("first_reminder"), account_id)
        return None if value is None else _dt(float(value))

    def schedule(self, msg: PendingSms) -> bool:
        return bool(self._schedule(keys=[self.key("pending"), self.key("pending", "data"), self.key("done")],
                                   args=[msg.key, repr(_epoch(msg.due_at)), msg.model_dump_json()]))

    def take_due(self, now: datetime, limit: int = 100) -> list[PendingSms]:
        raw = self._take(keys=[self.key("pending"), self.key("pending", "data")],
                         args=[repr(_epoch(now)), repr(_epoch(now + self.in_flight)), limit])
        return [PendingSms.model_validate_json(v) for v in raw]

    def reschedule(self, msg: PendingSms) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.key("pending", "data"), msg.key, msg.model_dump_json())
        pipe.zadd(self.key("pending"), {msg.key: _epoch(msg.due_at)})
        pipe.execute()

    def complete(self, msg: PendingSms, status: str, at: datetime) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.zrem(self.key("pending"), msg.key)
        pipe.hdel(self.key("pending", "data"), msg.key)
        pipe.hset(self.key("done"), msg.key, f"{status} {utc(at).isoformat()}")
        pipe.execute()

    def reserve_send(self, account_id: str, message_id: str, now: datetime, cap: int) -> datetime | None:
        oldest = self._reserve(keys=[self.key("sent", account_id)],
                               args=[repr(_epoch(now)), repr(_epoch(now - WEEK)), cap, message_id])
        return None if oldest is None else _dt(float(oldest)) + WEEK

    def unreserve(self, account_id: str, message_id: str) -> None:
        self.r.zrem(self.key("sent", account_id), message_id)

    def pending(self) -> list[PendingSms]:
        order = self.r.zrange(self.key("pending"), 0, -1)
        data = self.r.hgetall(self.key("pending", "data"))
        return [PendingSms.model_validate_json(data[k]) for k in order if k in data]

    def next_due(self) -> datetime | None:
        first = self.r.zrange(self.key("pending"), 0, 0, withscores=True)
        return _dt(first[0][1]) if first else None

    def done(self) -> dict[str, str]:
        return dict(self.r.hgetall(self.key("done")))

"""Campaign state on Redis, shared by every worker of every machine.

Key layout (PREFIX defaults to "voicebot"; tests use one prefix per test):

  PREFIX:optout                     SET    account ids that must never be called again (all campaigns)
  PREFIX:optout:at                  HASH   account id -> "ISO-time reason"
  PREFIX:optout:journals            HASH   opt-out journal id -> how many of its entries were copied
                                           into PREFIX:optout (gone with it: then copied again)
  PREFIX:paid                       SET    account ids known to have paid (stops SMS reminders)
  PREFIX:lease:ACCOUNT              STRING "token|campaign|worker", PX expiry: who is dialling it
  PREFIX:contacts:ACCOUNT           ZSET   call id -> epoch of each dial, all campaigns (caps)
  PREFIX:results:ACCOUNT            HASH   call id -> "CV" flags: connected, conversation (0/1)
  PREFIX:campaign:CID:accounts      HASH   account id -> account JSON
  PREFIX:campaign:CID:state         HASH   account id -> AccountState JSON
  PREFIX:campaign:CID:due           ZSET   account id -> epoch of its next allowed dial (only
                                           accounts still in play)
  PREFIX:campaign:CID:calls         LIST   CallRecord JSON, one per dial, in order of ending
  PREFIX:campaign:CID:blocked       LIST   blocked-attempt JSON (contact rule, reason), in order
  PREFIX:campaign:CID:lines         ZSET   lease value -> expiry (ms, server time): the
                                           campaign-wide concurrency semaphore

Claiming, renewing, deferring and finishing are Lua scripts, so each is atomic: an account is
leased to one worker at a time, and a worker whose lease expired cannot overwrite the state its
successor writes.  Lease and line expiries use the Redis server's clock (TIME), not the workers'.

The client is synchronous and must come from `redis_client.connect` (short timeouts); every
operation turns an unreachable or stalled Redis into `StoreUnavailable` naming the address, and
the async worker calls it off its event loop.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import redis

from dialogue.accounts import Account
from dialogue.compliance.rules import Attempt
from telephony.bus.redis_bus import prefix_pattern
from telephony.campaign.clock import utc
from telephony.campaign.redis_client import REDIS_DOWN, connect, describe, store_operation
from telephony.campaign.state import AccountState, CallRecord, Lease
from telephony.campaign.store import AccountErasure, StoreUnavailable

_SERVER_MS = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: accounts, state, due, optout   ARGV: id, account json, now epoch, pending json, opted-out json
_REGISTER = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'known' end
if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
  return 'opted_out'
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 'new'
"""

# KEYS: optout, lease, due, lines   ARGV: id, lease value, ttl ms, now epoch, max lines
_CLAIM = _SERVER_MS + """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 'opted_out' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'leased' end
local due = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not due then return 'not_active' end
if tonumber(due) > tonumber(ARGV[4]) then return 'not_due' end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now_ms)
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[5]) then return 'no_line' end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[4], now_ms + tonumber(ARGV[3]), ARGV[2])
return 'ok'
"""

# KEYS: lease, lines   ARGV: lease value, ttl ms
_RENEW = _SERVER_MS + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'XX', now_ms + tonumber(ARGV[2]), ARGV[1])
return 1
"""

# KEYS: lease, lines, due, state, calls, optout, optout_at
# ARGV: lease value, id, next epoch or '', state json, call json or '', opt out '1'/'0', opt-out note
_SETTLE = """
if ARGV[5] ~= '' then redis.call('RPUSH', KEYS[5], ARGV[5]) end
if ARGV[6] == '1' then
  redis.call('SADD', KEYS[6], ARGV[2])
  redis.call('HSETNX', KEYS[7], ARGV[2], ARGV[7])
end
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[4], ARGV[2], ARGV[4])
if ARGV[3] == '' then redis.call('ZREM', KEYS[3], ARGV[2]) else redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2]) end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: lease, accounts, state, due   ARGV: id, state json, next epoch or ''
_RESTATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
if ARGV[3] == '' then redis.call('ZREM', KEYS[4], ARGV[1]) else redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1]) end
return 1
"""


def _epoch(at: datetime) -> float:
    return utc(at).timestamp()


class RedisStore:
    #: StoreUnavailable from this store and from the SMS store and outbox sharing its client;
    #: raw Redis errors from any other code handed that client.
    unavailable: tuple[type[Exception], ...] = (StoreUnavailable, *REDIS_DOWN)
    store_name = "campaign store"

    def __init__(self, client: redis.Redis, prefix: str = "voicebot"):
        """`client`: from `redis_client.connect(url)` (decoded strings, short timeouts)."""
        self.r, self.prefix = client, prefix
        self.description = describe(client)
        self._register = client.register_script(_REGISTER)
        self._claim = client.register_script(_CLAIM)
        self._renew = client.register_script(_RENEW)
        self._settle = client.register_script(_SETTLE)
        self._restate = client.register_script(_RESTATE)

    @classmethod
    def from_url(cls, url: str, prefix: str = "voicebot") -> "RedisStore":
        return cls(connect(url), prefix)

    @store_operation("ping")
    def ping(self) -> None:
        self.r.ping()

    # -- keys -----------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _ck(self, campaign: str, part: str) -> str:
        return self.key("campaign", campaign, part)

    # -- flags ----------------------------------------------------------------------------
    @store_operation("ask an opt-out")
    def is_opted_out(self, account_id: str) -> bool:
        return bool(self.r.sismember(self.key("optout"), account_id))

    @store_operation("record an opt-out")
    def opt_out(self, account_id: str, at: datetime, reason: str = "") -> None:
        pipe = self.r.pipeline()
        pipe.sadd(self.key("optout"), account_id)
        pipe.hsetnx(self.key("optout", "at"), account_id, f"{utc(at).isoformat()} {reason}".strip())
        pipe.execute()

    @store_operation("list opt-outs")
    def opted_out(self) -> set[str]:
        return set(self.r.smembers(self.key("optout")))

    @store_operation("ask how much of an opt-out journal was copied")
    def journal_copied(self, journal_id: str) -> int:
        return int(self.r.hget(self.key("optout", "journals"), journal_id) or 0)

    @store_operation("note how much of an opt-out journal was copied")
    def mark_journal_copied(self, journal_id: str, entries: int) -> None:
        self.r.hset(self.key("optout", "journals"), journal_id, entries)

    @store_operation("ask a payment")
    def is_paid(self, account_id: str) -> bool:
        return bool(self.r.sismember(self.key("paid"), account_id))

    @store_operation("record a payment")
    def mark_paid(self, account_id: str) -> None:
        self.r.sadd(self.key("paid"), account_id)

    # -- accounts -------------------------------------------------------------------------
    @store_operation("register accounts")
    def register(self, campaign: str, accounts: list[Account], now: datetime) -> dict[str, str]:
        keys = [self._ck(campaign, "accounts"), self._ck(campaign, "state"), self._ck(campaign, "due"),
                self.key("optout")]
        pipe = self.r.pipeline()
        for account in accounts:
            pending = AccountState(account_id=account.id, next_at=now, updated_at=now)
            opted = AccountState(account_id=account.id, status="done", final="opted_out", updated_at=now)
            self._register(keys=keys, args=[account.id, account.model_dump_json(), _epoch(now),
                                            pending.model_dump_json(), opted.model_dump_json()],
                           client=pipe)
        return dict(zip((a.id for a in accounts), pipe.execute()))

    @store_operation("list due accounts")
    def due(self, campaign: str, now: datetime, limit: int = 50) -> list[str]:
        return list(self.r.zrangebyscore(self._ck(campaign, "due"), "-inf", _epoch(now), start=0, num=limit))

    @store_operation("find the next due account")
    def next_due(self, campaign: str) -> datetime | None:
        first = self.r.zrange(self._ck(campaign, "due"), 0, 0, withscores=True)
        return datetime.fromtimestamp(first[0][1], timezone.utc) if first else None

    @store_operation("count active accounts")
    def active(self, campaign: str) -> int:
        return int(self.r.zcard(self._ck(campaign, "due")))

    @store_operation("read accounts")
    def accounts(self, campaign: str) -> dict[str, Account]:
        raw = self.r.hgetall(self._ck(campaign, "accounts"))
        return {k: Account.model_validate_json(v) for k, v in raw.items()}

    # -- leases ---------------------------------------------------------------------------
    @store_operation("claim an account")
    def claim(self, campaign: str, account_id: str, worker: str, now: datetime, ttl_s: float,
              max_lines: int) -> Lease | str:
        lease = Lease(campaign=campaign, account_id=account_id, worker=worker, token=uuid.uuid4().hex)
        answer = self._claim(
            keys=[self.key("optout"), self.key("lease", account_id), self._ck(campaign, "due"),
                  self._ck(campaign, "lines")],
            args=[account_id, lease.value, int(ttl_s * 1000), _epoch(now), max_lines])
        return lease if answer == "ok" else str(answer)

    @store_operation("renew a lease")
    def renew(self, lease: Lease, ttl_s: float) -> bool:
        return bool(self._renew(keys=[self.key("lease", lease.account_id), self._ck(lease.campaign, "lines")],
                                args=[lease.value, int(ttl_s * 1000)]))

    @store_operation("read a lease")
    def holder(self, account_id: str) -> str | None:
        return self.r.get(self.key("lease", account_id))

    # -- state ----------------------------------------------------------------------------
    @store_operation("read an account's state")
    def state(self, campaign: str, account_id: str) -> AccountState:
        raw = self.r.hget(self._ck(campaign, "state"), account_id)
        if raw is None:
            raise KeyError(f"account {account_id!r} is not in campaign {campaign!r}")
        return AccountState.model_validate_json(raw)

    @store_operation("read the states")
    def states(self, campaign: str) -> dict[str, AccountState]:
        return {k: AccountState.model_validate_json(v)
                for k, v in self.r.hgetall(self._ck(campaign, "state")).items()}

    @store_operation("read contacts")
    def contacts_since(self, account_id: str, since: datetime) -> list[datetime]:
        scores = self.r.zrangebyscore(self.key("contacts", account_id), _epoch(since), "+inf", withscores=True)
        return [datetime.fromtimestamp(score, timezone.utc) for _, score in scores]

    @store_operation("read attempts")
    def attempts_since(self, account_id: str, since: datetime) -> list[Attempt]:
        pipe = self.r.pipeline()
        pipe.zrangebyscore(self.key("contacts", account_id), _epoch(since), "+inf", withscores=True)
        pipe.hgetall(self.key("results", account_id))
        scores, results = pipe.execute()
        out = []
        for call_id, score in scores:
            flags = results.get(call_id, "00")
            out.append(Attempt(datetime.fromtimestamp(score, timezone.utc), flags[0] == "1", flags[1] == "1",
                               ref=call_id))
        return out

    @store_operation("record a call's result")
    def note_result(self, account_id: str, call_id: str, connected: bool, conversation: bool) -> None:
        key = self.key("results", account_id)
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, call_id, f"{int(connected)}{int(conversation)}")
        pipe.expire(key, 35 * 86400)  # as long as any rule looks back
        pipe.execute()

    @store_operation("log a blocked attempt")
    def log_blocked(self, campaign: str, entry: dict) -> None:
        self.r.rpush(self._ck(campaign, "blocked"), json.dumps(entry, ensure_ascii=False))

    @store_operation("read blocked attempts")
    def blocked(self, campaign: str) -> list[dict]:
        return [json.loads(v) for v in self.r.lrange(self._ck(campaign, "blocked"), 0, -1)]

    @store_operation("begin a call")
    def begin_call(self, lease: Lease, call_id: str, now: datetime, state: AccountState) -> None:
        contacts = self.key("contacts", lease.account_id)
        pipe = self.r.pipeline(transaction=True)
        pipe.zadd(contacts, {call_id: _epoch(now)})
        pipe.zremrangebyscore(contacts, "-inf", _epoch(now) - 35 * 86400)  # older than any cap window
        pipe.hset(self._ck(lease.campaign, "state"), lease.account_id, state.model_dump_json())
        pipe.execute()

    def _settle_keys(self, lease: Lease) -> list[str]:
        c = lease.campaign
        return [self.key("lease", lease.account_id), self._ck(c, "lines"), self._ck(c, "due"),
                self._ck(c, "state"), self._ck(c, "calls"), self.key("optout"), self.key("optout", "at")]

    @staticmethod
    def _next(state: AccountState) -> str:
        return "" if state.done or state.next_at is None else repr(_epoch(state.next_at))

    @store_operation("defer an account")
    def defer(self, lease: Lease, state: AccountState) -> None:
        self._settle(keys=self._settle_keys(lease),
                     args=[lease.value, lease.account_id, self._next(state), state.model_dump_json(), "", "0", ""])

    @store_operation("finish a call")
    def finish(self, lease: Lease, state: AccountState, record: CallRecord, opt_out: bool) -> bool:
        note = f"{utc(record.ended_at).isoformat()} opted out on a call"
        return bool(self._settle(keys=self._settle_keys(lease),
                                 args=[lease.value, lease.account_id, self._next(state), state.model_dump_json(),
                                       record.model_dump_json(), "1" if opt_out else "0", note]))

    @store_operation("settle an account")
    def settle(self, campaign: str, account_id: str, final: str, now: datetime) -> None:
        raw = self.r.hget(self._ck(campaign, "state"), account_id)
        state = AccountState.model_validate_json(raw) if raw else AccountState(account_id=account_id)
        state = state.model_copy(update={"status": "done", "final": final, "next_at": None,
                                         "waiting_for": None, "updated_at": now})
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self._ck(campaign, "state"), account_id, state.model_dump_json())
        pipe.zrem(self._ck(campaign, "due"), account_id)
        pipe.execute()

    @store_operation("restate an account")
    def restate(self, campaign: str, state: AccountState) -> bool:
        keys = [self.key("lease", state.account_id), self._ck(campaign, "accounts"), self._ck(campaign, "state"),
                self._ck(campaign, "due")]
        return bool(self._restate(keys=keys, args=[state.account_id, state.model_dump_json(), self._next(state)]))

    @store_operation("read the call log")
    def calls(self, campaign: str) -> list[CallRecord]:
        return [CallRecord.model_validate_json(v) for v in self.r.lrange(self._ck(campaign, "calls"), 0, -1)]

    # -- erasure --------------------------------------------------------------------------
    @store_operation("erase an account")
    def erase_account(self, account_id: str, *, dry_run: bool = False) -> AccountErasure:
        """Read what there is, then remove it in one transaction (MULTI): a log entry is
        removed by its exact JSON, so entries a call appends meanwhile are left (`in_call`)."""
        erasure = AccountErasure(paid=int(self.r.sismember(self.key("paid"), account_id)),
                                 in_call=self.r.get(self.key("lease", account_id)))
        pipe = self.r.pipeline(transaction=True)
        for campaign in self._campaign_ids():
            logged = [raw for raw in self.r.lrange(self._ck(campaign, "calls"), 0, -1)
                      if account_id in raw and json.loads(raw).get("account_id") == account_id]
            erasure.accounts += int(self.r.hexists(self._ck(campaign, "accounts"), account_id))
            erasure.states += int(self.r.hexists(self._ck(campaign, "state"), account_id))
            erasure.calls += len(logged)
            pipe.hdel(self._ck(campaign, "accounts"), account_id)
            pipe.hdel(self._ck(campaign, "state"), account_id)
            pipe.zrem(self._ck(campaign, "due"), account_id)
            for raw in set(logged):
                pipe.lrem(self._ck(campaign, "calls"), 0, raw)
        pipe.srem(self.key("paid"), account_id)
        if not dry_run:
            pipe.execute()
        return erasure

    def _campaign_ids(self) -> set[str]:
        """Every campaign with keys here: CID of each PREFIX:campaign:CID:PART."""
        head = self.key("campaign", "")
        keys = self.r.scan_iter(match=prefix_pattern(head), count=500)
        return {key[len(head):].rpartition(":")[0] for key in keys}

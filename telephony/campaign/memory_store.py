"""Campaign state in one process's memory, for runs without Redis.  It can be saved to and
loaded from a JSON file so opt-outs and a campaign's progress outlive the process; it is not
shared between processes (use Redis for several workers)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dialogue.accounts import Account
from dialogue.compliance.rules import Attempt
from telephony.campaign.clock import utc
from telephony.campaign.state import AccountState, CallRecord, Lease
from telephony.campaign.store import AccountErasure


class _Campaign:
    def __init__(self) -> None:
        self.accounts: dict[str, dict] = {}
        self.state: dict[str, AccountState] = {}
        self.due: dict[str, float] = {}
        self.calls: list[CallRecord] = []
        self.blocked: list[dict] = []
        self.lines: dict[str, float] = {}  # lease value -> expiry (monotonic)


class InMemoryStore:
    unavailable: tuple[type[Exception], ...] = ()  # memory is always there

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self._lock = threading.RLock()
        self._mono = monotonic
        self._campaigns: dict[str, _Campaign] = {}
        self._leases: dict[str, tuple[str, float]] = {}  # account -> (value, expiry)
        self._contacts: dict[str, dict[str, float]] = {}
        self._results: dict[str, dict[str, list[bool]]] = {}  # account -> call id -> [connected, conversation]
        self._optout: dict[str, str] = {}
        self._journals: dict[str, int] = {}  # opt-out journal id -> entries copied into _optout
        self._paid: set[str] = set()

    def _c(self, campaign: str) -> _Campaign:
        return self._campaigns.setdefault(campaign, _Campaign())

    # -- flags ----------------------------------------------------------------------------
    def is_opted_out(self, account_id: str) -> bool:
        return account_id in self._optout

    def opt_out(self, account_id: str, at: datetime, reason: str = "") -> None:
        with self._lock:
            self._optout.setdefault(account_id, f"{utc(at).isoformat()} {reason}".strip())

    def opted_out(self) -> set[str]:
        return set(self._optout)

    def journal_copied(self, journal_id: str) -> int:
        return self._journals.get(journal_id, 0)

    def mark_journal_copied(self, journal_id: str, entries: int) -> None:
        with self._lock:
            self._journals[journal_id] = entries

    def is_paid(self, account_id: str) -> bool:
        return account_id in self._paid

    def mark_paid(self, account_id: str) -> None:
        with self._lock:
            self._paid.add(account_id)

    # -- accounts -------------------------------------------------------------------------
    def register(self, campaign: str, accounts: list[Account], now: datetime) -> dict[str, str]:
        out = {}
        with self._lock:
            c = self._c(campaign)
            for account in accounts:
                c.accounts[account.id] = account.model_dump(mode="json")
                if account.id in c.state:
                    out[account.id] = "known"
                elif self.is_opted_out(account.id):
                    c.state[account.id] = AccountState(account_id=account.id, status="done",
                                                       final="opted_out", updated_at=now)
                    out[account.id] = "opted_out"
                else:
                    c.state[account.id] = AccountState(account_id=account.id, next_at=now, updated_at=now)
                    c.due[account.id] = utc(now).timestamp()
                    out[account.id] = "new"
        return out

    def due(self, campaign: str, now: datetime, limit: int = 50) -> list[str]:
        with self._lock:
            at = utc(now).timestamp()
            ready = sorted((score, aid) for aid, score in self._c(campaign).due.items() if score <= at)
            return [aid for _, aid in ready[:limit]]

    def next_due(self, campaign: str) -> datetime | None:
        with self._lock:
            due = self._c(campaign).due
            return datetime.fromtimestamp(min(due.values()), timezone.utc) if due else None

    def active(self, campaign: str) -> int:
        return len(self._c(campaign).due)

    def accounts(self, campaign: str) -> dict[str, Account]:
        return {k: Account.model_validate(v) for k, v in self._c(campaign).accounts.items()}

    # -- leases ---------------------------------------------------------------------------
    def _lease_value(self, account_id: str) -> str | None:
        held = self._leases.get(account_id)
        if held and held[1] > self._mono():
            return held[0]
        self._leases.pop(account_id, None)
        return None

    def claim(self, campaign: str, account_id: str, worker: str, now: datetime, ttl_s: float,
              max_lines: int) -> Lease | str:
        with self._lock:
            c = self._c(campaign)
            if self.is_opted_out(account_id):
                return "opted_out"
            if self._lease_value(account_id) is not None:
                return "leased"
            score = c.due.get(account_id)
            if score is None:
                return "not_active"
            if score > utc(now).timestamp():
                return "not_due"
            mono = self._mono()
            c.lines = {k: v for k, v in c.lines.items() if v > mono}
            if len(c.lines) >= max_lines:
                return "no_line"
            lease = Lease(campaign=campaign, account_id=account_id, worker=worker, token=uuid.uuid4().hex)
            self._leases[account_id] = (lease.value, mono + ttl_s)
            c.lines[lease.value] = mono + ttl_s
            return lease

    def renew(self, lease: Lease, ttl_s: float) -> bool:
        with self._lock:
            if self._lease_value(lease.account_id) != lease.value:
                return False
            expiry = self._mono() + ttl_s
            self._leases[lease.account_id] = (lease.value, expiry)
            c = self._c(lease.campaign)
            if lease.value in c.lines:
                c.lines[lease.value] = expiry
            return True

    def holder(self, account_id: str) -> str | None:
        with self._lock:
            return self._lease_value(account_id)

    def _release(self, lease: Lease) -> bool:
        c = self._c(lease.campaign)
        c.lines.pop(lease.value, None)
        if self._lease_value(lease.account_id) != lease.value:
            return False
        del self._leases[lease.account_id]
        return True

    # -- state ----------------------------------------------------------------------------
    def state(self, campaign: str, account_id: str) -> AccountState:
        with self._lock:
            return self._c(campaign).state[account_id].model_copy(deep=True)

    def states(self, campaign: str) -> dict[str, AccountState]:
        with self._lock:
            return {k: v.model_copy(deep=True) for k, v in self._c(campaign).state.items()}

    def contacts_since(self, account_id: str, since: datetime) -> list[datetime]:
        with self._lock:
            at = utc(since).timestamp()
            return sorted(datetime.fromtimestamp(v, timezone.utc)
                          for v in self._contacts.get(account_id, {}).values() if v >= at)

    def attempts_since(self, account_id: str, since: datetime) -> list[Attempt]:
        with self._lock:
            at, results = utc(since).timestamp(), self._results.get(account_id, {})
            return sorted((Attempt(datetime.fromtimestamp(v, timezone.utc), *results.get(call_id, (False, False)),
                                   ref=call_id)
                           for call_id, v in self._contacts.get(account_id, {}).items() if v >= at),
                          key=lambda a: a.at)

    def note_result(self, account_id: str, call_id: str, connected: bool, conversation: bool) -> None:
        with self._lock:
            self._results.setdefault(account_id, {})[call_id] = [connected, conversation]

    def log_blocked(self, campaign: str, entry: dict) -> None:
        with self._lock:
            self._c(campaign).blocked.append(dict(entry))

    def blocked(self, campaign: str) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self._c(campaign).blocked]

    def begin_call(self, lease: Lease, call_id: str, now: datetime, state: AccountState) -> None:
        with self._lock:
            self._contacts.setdefault(lease.account_id, {})[call_id] = utc(now).timestamp()
            self._c(lease.campaign).state[lease.account_id] = state.model_copy(deep=True)

    def _save(self, campaign: str, state: AccountState) -> None:
        c = self._c(campaign)
        c.state[state.account_id] = state.model_copy(deep=True)
        if state.done or state.next_at is None:
            c.due.pop(state.account_id, None)
        else:
            c.due[state.account_id] = utc(state.next_at).timestamp()

    def defer(self, lease: Lease, state: AccountState) -> None:
        with self._lock:
            if self._lease_value(lease.account_id) == lease.value:
                self._save(lease.campaign, state)
            self._release(lease)

    def finish(self, lease: Lease, state: AccountState, record: CallRecord, opt_out: bool) -> bool:
        with self._lock:
            self._c(lease.campaign).calls.append(record)
            if opt_out:
                self.opt_out(lease.account_id, record.ended_at, "opted out on a call")
            owned = self._lease_value(lease.account_id) == lease.value
            if owned:
                self._save(lease.campaign, state)
            self._release(lease)
            return owned

    def settle(self, campaign: str, account_id: str, final: str, now: datetime) -> None:
        with self._lock:
            c = self._c(campaign)
            state = c.state.get(account_id) or AccountState(account_id=account_id)
            state = state.model_copy(update={"status": "done", "final": final, "next_at": None,
                                             "waiting_for": None, "updated_at": now})
            self._save(campaign, state)

    def restate(self, campaign: str, state: AccountState) -> bool:
        with self._lock:
            c = self._c(campaign)
            if state.account_id not in c.accounts or self._lease_value(state.account_id) is not None:
                return False
            self._save(campaign, state)
            return True

    def calls(self, campaign: str) -> list[CallRecord]:
        with self._lock:
            return list(self._c(campaign).calls)

    # -- erasure --------------------------------------------------------------------------
    def erase_account(self, account_id: str, *, dry_run: bool = False) -> AccountErasure:
        with self._lock:
            campaigns = list(self._campaigns.values())
            erasure = AccountErasure(
                accounts=sum(account_id in c.accounts for c in campaigns),
                states=sum(account_id in c.state for c in campaigns),
                calls=sum(r.account_id == account_id for c in campaigns for r in c.calls),
                paid=int(account_id in self._paid), in_call=self._lease_value(account_id))
            if dry_run:
                return erasure
            for c in campaigns:
                c.accounts.pop(account_id, None)
                c.state.pop(account_id, None)
                c.due.pop(account_id, None)
                c.calls = [r for r in c.calls if r.account_id != account_id]
            self._paid.discard(account_id)
            return erasure

    # -- persistence ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "optout": self._optout, "paid": sorted(self._paid), "contacts": self._contacts,
                "results": self._results,
                "campaigns": {
                    name: {"accounts": c.accounts, "due": c.due,
                           "state": {k: v.model_dump(mode="json") for k, v in c.state.items()},
                           "calls": [r.model_dump(mode="json") for r in c.calls], "blocked": c.blocked}
                    for name, c in self._campaigns.items()
                },
            }

    def load_json(self, data: dict[str, Any]) -> None:
        with self._lock:
            self._optout = dict(data.get("optout", {}))
            self._journals = {}  # what was copied into the opt-outs just replaced: unknown
            self._paid = set(data.get("paid", []))
            self._contacts = {k: dict(v) for k, v in data.get("contacts", {}).items()}
            self._results = {k: dict(v) for k, v in data.get("results", {}).items()}
            for name, raw in data.get("campaigns", {}).items():
                c = self._c(name)
                c.accounts = dict(raw.get("accounts", {}))
                c.due = {k: float(v) for k, v in raw.get("due", {}).items()}
                c.state = {k: AccountState.model_validate(v) for k, v in raw.get("state", {}).items()}
                c.calls = [CallRecord.model_validate(r) for r in raw.get("calls", [])]
                c.blocked = list(raw.get("blocked", []))


def load_state_file(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def save_state_file(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)

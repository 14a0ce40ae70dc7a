"""One campaign worker: claims due accounts from the shared store, dials them through a
Dialer, and writes back what happened.  Start as many as you like, on as many machines as you
like, against one Redis: leases keep each account with one worker at a time, and the
campaign-wide line limit caps the calls in progress across all of them.

`run()` works until nothing is due now (a pass, for cron-style runs), or with `follow=True`
until every account is settled or `until` is reached, sleeping on the clock between dials.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dialogue.accounts import Account
from dialogue.compliance.rules import Decision, may_call
from telephony.campaign.clock import Clock, SystemClock
from telephony.campaign.config import CampaignConfig
from telephony.campaign.dialer import CallAnswer, CallRequest, Dialer
from telephony.campaign.leases import LeaseKeeper
from telephony.campaign.schedule import after_call, contact_gate
from telephony.campaign.stages import ScriptsFor, engine_scripts, stage_for, voice_for
from telephony.campaign.state import AccountState, CallRecord, Lease
from telephony.campaign.store import CampaignStore
from telephony.campaign.windows import local, next_opening, zone
from telephony.compliance_gate import AuditLog, blocked_entry

if TYPE_CHECKING:  # the SMS package builds on this one; no import at run time
    from telephony.sms.triggers import SmsTriggers

CAP_LOOKBACK = timedelta(days=8)
RULES_LOOKBACK = timedelta(days=35)  # longer than any profile's rolling window


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class CampaignListener:
    """Hooks for progress display; every method is optional."""

    def call_started(self, request: CallRequest) -> None: ...
    def call_ended(self, record: CallRecord, state: AccountState) -> None: ...
    def deferred(self, state: AccountState) -> None: ...
    def settled(self, state: AccountState) -> None: ...


@dataclass
class RunResult:
    """What this worker did in one run (the campaign as a whole is in the store)."""

    worker: str
    calls: list[CallRecord] = field(default_factory=list)
    deferred: int = 0
    lost_leases: int = 0


class CampaignWorker:
    def __init__(self, store: CampaignStore, dialer: Dialer, campaign: str, *,
                 config: CampaignConfig | None = None, clock: Clock | None = None,
                 worker_id: str | None = None, sms: SmsTriggers | None = None,
                 listener: CampaignListener | None = None, scripts_for: ScriptsFor = engine_scripts,
                 audit: AuditLog | None = None):
        self.store, self.dialer, self.campaign = store, dialer, campaign
        self.config = config or CampaignConfig()
        self.clock = clock or SystemClock()
        self.worker_id = worker_id or default_worker_id()
        self.sms = sms
        self.listener = listener or CampaignListener()
        self.scripts_for = scripts_for
        self.audit = audit  # JSONL copy of every blocked attempt (the store keeps one per campaign)
        self._accounts: dict[str, Account] = {}
        self._result = RunResult(self.worker_id)

    # -- the loop -------------------------------------------------------------------------
    async def run(self, accounts: list[Account] | None = None, *, follow: bool = False,
                  until: datetime | None = None) -> RunResult:
        if accounts:
            self.store.register(self.campaign, accounts, self.clock.now())
        self._accounts = self.store.accounts(self.campaign)
        self._result = RunResult(self.worker_id)
        tasks: set[asyncio.Task] = set()
        keeper = LeaseKeeper(self.store, self.config.lease_ttl_s)
        self._keeper = keeper
        with keeper:
            try:
                await self._loop(tasks, follow, until)
            finally:
                if tasks:
                    await asyncio.gather(*tasks, return_exceptions=True)
        self._result.lost_leases = len(keeper.lost)
        return self._result

    async def _loop(self, tasks: set[asyncio.Task], follow: bool, until: datetime | None) -> None:
        while True:
            now = self.clock.now()
            if until is not None and now >= until:
                return
            started = self._start_due(tasks, now)
            if self.sms is not None:
                self.sms.send_due(now)
            if tasks:
                done, _ = await asyncio.wait(tasks, timeout=self.config.poll_s,
                                             return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    tasks.discard(task)
                    task.result()  # a bug in the worker must surface, not vanish
                continue
            if started:
                continue
            next_due = self.store.next_due(self.campaign)
            sms_due = self.sms.next_due() if (self.sms is not None and follow and until is not None) else None
            if next_due is None and sms_due is None:
                return  # every account settled (and, when following to a deadline, every SMS sent)
            if next_due is not None and next_due <= now:
                # Due, but another worker holds it or every line is busy: wait in real time.
                await asyncio.sleep(self.config.poll_s)
                continue
            if not follow:
                return
            upcoming = [t for t in (next_due, sms_due) if t is not None]
            if until is not None and min(upcoming) >= until:
                return  # nothing of ours can happen before the deadline; other workers' calls
                # still in progress reschedule their accounts themselves
            wake = min(t for t in (next_due, sms_due, until) if t is not None)
            await self.clock.sleep(max(0.0, (wake - now).total_seconds()))

    # -- one dial -------------------------------------------------------------------------
    def _account(self, account_id: str) -> Account | None:
        if account_id not in self._accounts:
            self._accounts = self.store.accounts(self.campaign)  # registered by another worker
        return self._accounts.get(account_id)

    def _start_due(self, tasks: set[asyncio.Task], now: datetime) -> int:
        free = self.config.concurrency - len(tasks)
        started = 0
        if free <= 0:
            return 0
        for account_id in self.store.due(self.campaign, now, limit=4 * free + 10):
            claim = self.store.claim(self.campaign, account_id, self.worker_id, now,
                                     self.config.lease_ttl_s, self.config.concurrency)
            if claim == "no_line":
                break
            if claim == "opted_out":
                self.store.settle(self.campaign, account_id, "opted_out", now)
                self.listener.settled(self.store.state(self.campaign, account_id))
                continue
            if isinstance(claim, str):
                continue
            task = self._begin(claim, now)
            if task is None:
                continue
            tasks.add(task)
            started += 1
            if started >= free:
                break
        return started

    def _begin(self, lease: Lease, now: datetime) -> asyncio.Task | None:
        """Check the window and caps under the lease; dial, or put the account back for later."""
        state = self.store.state(self.campaign, lease.account_id)
        account = self._account(lease.account_id)
        try:
            if account is None:
                raise ValueError("account data missing from the campaign")
            tz = zone(account.timezone, self.config.default_timezone)
            stage = stage_for(account, self.scripts_for)
        except (KeyError, ValueError) as exc:
            reason = exc.args[0] if exc.args else str(exc)
            state = state.model_copy(update={"status": "done", "final": "not_callable", "next_at": None,
                                             "note": str(reason), "updated_at": now})
            self.store.defer(lease, state)
            self.listener.settled(state)
            return None
        # The campaign's own window and caps first (a stricter setting on top of the law),
        # then the jurisdiction's contact rules, fed with this debt's attempts in any campaign.
        gate = contact_gate(self.config, tz, now, self.store.contacts_since(account.id, now - CAP_LOOKBACK))
        if not gate.allowed:
            own = Decision(False, gate.reason, f"campaign setting {gate.reason}", gate.next_at, "campaign")
            return self._blocked(lease, state, account, own, now, gate.next_at, gate.reason)
        decision = may_call(account, self.store.attempts_since(account.id, now - RULES_LOOKBACK), now,
                            opted_out=self.store.is_opted_out(account.id))
        if not decision.allowed:
            later = (next_opening([self.config.calling_window], decision.next_allowed_at, tz)
                     if decision.next_allowed_at else None)
            return self._blocked(lease, state, account, decision, now, later, decision.rule)
        state = state.model_copy(update={"attempts": state.attempts + 1, "updated_at": now})
        conversation = state.answered + 1
        request = CallRequest(account=account, stage=stage, attempt=state.attempts, conversation=conversation,
                              voice=voice_for(account, stage, conversation, self.scripts_for),
                              call_id=uuid.uuid4().hex[:12], today=local(now, tz).date())
        self.store.begin_call(lease, request.call_id, now, state)
        self._keeper.add(lease)
        self.listener.call_started(request)
        return asyncio.create_task(self._call(lease, state, request), name=f"call-{account.id}")

    def _blocked(self, lease: Lease, state: AccountState, account: Account, decision: Decision, now: datetime,
                 next_at: datetime | None, waiting_for: str | None) -> None:
        """Log the refused dial with its rule, and put the account back for the next allowed
        time; with none (opted out, no jurisdiction or time zone) it leaves the campaign."""
        entry = blocked_entry(account, decision, now, "campaign", campaign=self.campaign, worker=self.worker_id)
        self.store.log_blocked(self.campaign, entry)
        if self.audit is not None:
            self.audit.write(entry)
        if next_at is None:
            final = "opted_out" if decision.rule == "opt_out" else "not_callable"
            state = state.model_copy(update={"status": "done", "final": final, "next_at": None, "waiting_for": None,
                                             "note": f"{entry['rule']}: {decision.reason}", "updated_at": now})
            self.store.defer(lease, state)
            self.listener.settled(state)
            return None
        state = state.model_copy(update={"next_at": next_at, "waiting_for": waiting_for, "updated_at": now})
        self.store.defer(lease, state)
        self._result.deferred += 1
        self.listener.deferred(state)
        return None

    async def _call(self, lease: Lease, state: AccountState, request: CallRequest) -> None:
        started, wall_start = self.clock.now(), time.time()
        try:
            answer = await self.dialer.place(request)
        except Exception as exc:  # noqa: BLE001 - a failed dial is an outcome, retried on schedule
            answer = CallAnswer("failed", error=f"{type(exc).__name__}: {exc}")
        ended, wall_end = self.clock.now(), time.time()
        tz = zone(request.account.timezone, self.config.default_timezone)
        new_state = after_call(self.config, state, answer, ended, tz)
        summary = answer.summary or {}
        record = CallRecord(
            call_id=request.call_id, campaign=self.campaign, account_id=request.account.id,
            worker=self.worker_id, attempt=request.attempt, conversation=request.conversation,
            stage=request.stage, voice=str(summary.get("voice") or request.voice), status=answer.status,
            outcome=answer.outcome, score=summary.get("score"), session_call_id=summary.get("call_id"),
            started_at=started, ended_at=ended, wall_start=wall_start, wall_end=wall_end, error=answer.error)
        self._keeper.remove(lease)
        answered = answer.status == "answered"
        self.store.note_result(request.account.id, request.call_id, answered,
                               answered and "identity_confirmed" in (summary.get("tags") or []))
        self.store.finish(lease, new_state, record, opt_out=answer.outcome == "opted_out")
        self._result.calls.append(record)
        if self.sms is not None and answer.status == "answered":
            self.sms.after_call(request.account, summary, ended)
        self.listener.call_ended(record, new_state)

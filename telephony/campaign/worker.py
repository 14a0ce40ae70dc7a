"""One campaign worker: claims due accounts from the shared store, dials them through a
Dialer, and writes back what happened.  Start as many as you like, on as many machines as you
like, against one Redis: leases keep each account with one worker at a time, and the
campaign-wide line limit caps the calls in progress across all of them.

`run()` works until nothing is due now (a pass, for cron-style runs), or with `follow=True`
until every account is settled or `until` is reached, sleeping on the clock between dials.

The store can become unreachable (Redis restarting) while calls are on the line.  The worker
does not stop then: calls in progress go on, each finished call's outcome is kept in memory
and written when the store answers again, and an opt-out is first made durable in the opt-out
journal (`OptOuts`), which every claim consults too, so nobody who said "stop calling me" is
dialled again whatever the store lost.

The stores are synchronous (Redis with short timeouts, or memory) and shared with threads
(the lease keeper) and synchronous callers (the CLI, SMS, the server's opt-out check), so the
worker runs each store call on a thread (`_io`): the event loop carries the calls and must
keep running while Redis is slow or stalled; a stall surfaces after the client's timeout as
one of `store.unavailable` (`StoreUnavailable`, naming the address) and is handled as an outage.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ParamSpec, Protocol, TypeVar

from loguru import logger

from dialogue.accounts import Account
from dialogue.compliance.rules import Decision, debtor_time
from dialogue.promises import with_prior_promise
from telephony.campaign.clock import Clock, SystemClock
from telephony.campaign.config import CampaignConfig
from telephony.campaign.dial_history import DialHistory
from telephony.campaign.dialer import CallAnswer, CallRequest, Dialer
from telephony.campaign.leases import LeaseKeeper
from telephony.campaign.opt_outs import OptOuts
from telephony.campaign.promise_follow_ups import PromiseFollowUps
from telephony.campaign.schedule import after_call, contact_gate
from telephony.campaign.stages import ScriptsFor, engine_scripts, stage_for, voice_for
from telephony.campaign.state import AccountState, CallRecord, Lease
from telephony.campaign.store import CampaignStore
from telephony.compliance_gate import AuditLog, blocked_entry
from telephony.contact_history import ContactHistory, HistoryUnavailable
from telephony.metrics import dial_ended



class AfterCallTexts(Protocol):
    """The SMS side a worker drives (`telephony.sms.triggers.SmsTriggers`): texts planned after
    each answered call, sent when due. A protocol, so that the campaign does not import the SMS
    package, which builds on the campaign's clock and stores."""

    def after_call(self, account: Any, summary: dict[str, Any], at: datetime | None = None) -> Any: ...

    def next_due(self) -> datetime | None: ...

    def send_due(self, now: datetime | None = None) -> Any: ...

P = ParamSpec("P")
T = TypeVar("T")

CAP_LOOKBACK = timedelta(days=8)
BOOK_RETRY = timedelta(minutes=10)  # a follow-up whose promise book did not answer waits this long


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class CampaignListener:
    """Hooks for progress display; every method is optional."""

    def call_started(self, request: CallRequest) -> None: ...
    def call_ended(self, record: CallRecord, state: AccountState) -> None: ...
    def deferred(self, state: AccountState) -> None: ...
    def settled(self, state: AccountState) -> None: ...


@dataclass
class FinishedCall:
    """A call's outcome waiting to be written to the store (kept while the store is down)."""

    lease: Lease
    request: CallRequest
    answer: CallAnswer
    state: AccountState
    record: CallRecord
    finished: bool = False  # the store took the state and log; only what follows is left


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
                 worker_id: str | None = None, sms: AfterCallTexts | None = None,
                 listener: CampaignListener | None = None, scripts_for: ScriptsFor = engine_scripts,
                 audit: AuditLog | None = None, opt_outs: OptOuts | None = None,
                 follow_ups: PromiseFollowUps | None = None, history: ContactHistory | None = None):
        """`opt_outs`: where opt-outs are recorded and asked, journal first (the CLI always
        gives one); default the store alone.  `follow_ups`: promises made on this campaign's
        calls are judged each round and followed up (reminder, call, escalation).  `history`: the
        one contact history every dial is judged with and recorded in (dial_history.py)."""
        self.store, self.dialer, self.campaign = store, dialer, campaign
        self.config = config or CampaignConfig()
        self.clock = clock or SystemClock()
        self.worker_id = worker_id or default_worker_id()
        self.sms = sms
        self.listener = listener or CampaignListener()
        self.scripts_for = scripts_for
        self.audit = audit  # JSONL copy of every blocked attempt (the store keeps one per campaign)
        self.opt_outs = opt_outs or OptOuts(store)
        self.follow_ups = follow_ups
        self.dials = DialHistory(store, history)
        self._attempt_ids: dict[str, str | None] = {}  # campaign call id -> its contact-history attempt
        self._unsaved: list[FinishedCall] = []  # outcomes the store could not take yet
        self._accounts: dict[str, Account] = {}
        self._result = RunResult(self.worker_id)

    # -- the loop -------------------------------------------------------------------------
    async def run(self, accounts: list[Account] | None = None, *, follow: bool = False,
                  until: datetime | None = None) -> RunResult:
        await _io(self.opt_outs.replay)  # opt-outs journaled while the store was down or by a killed worker
        if accounts:
            await _io(self.store.register, self.campaign, accounts, self.clock.now())
        self._accounts = await _io(self.store.accounts, self.campaign)
        self._result = RunResult(self.worker_id)
        tasks: set[asyncio.Task] = set()
        keeper = LeaseKeeper(self.store, self.config.lease_ttl_s)
        self._keeper = keeper
        with keeper:
            try:
                await self._loop(tasks, follow, until)
            finally:
                failures = await self._drain(tasks)
            if failures:
                raise failures[0]
        self._result.lost_leases = len(keeper.lost)
        return self._result

    async def _drain(self, tasks: set[asyncio.Task]) -> list[BaseException]:
        """Let the calls still on the line end; every failure is logged, none is dropped."""
        results = await asyncio.gather(*tasks, return_exceptions=True) if tasks else []
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            logger.opt(exception=failure).error(f"campaign {self.campaign}: a call task failed: {failure!r}")
        if self._unsaved:
            try:
                await self._save_unsaved()
            except self.store.unavailable as exc:
                lost = ", ".join(f.request.account.id for f in self._unsaved)
                logger.error(f"campaign {self.campaign}: the store is still unreachable ({exc}); the outcomes "
                             f"of {lost} are not saved (opt-outs among them are in the opt-out journal)")
        return failures

    async def _loop(self, tasks: set[asyncio.Task], follow: bool, until: datetime | None) -> None:
        down = False
        while True:
            try:
                if await self._step(tasks, follow, until):
                    return
                if down:
                    logger.warning(f"campaign {self.campaign}: the campaign store answers again")
                    down = False
            except (*self.store.unavailable, HistoryUnavailable) as exc:
                if not down:  # once per outage, not once per poll
                    which = "contact history" if isinstance(exc, HistoryUnavailable) else "campaign store"
                    logger.error(f"campaign {self.campaign}: the {which} is unreachable "
                                 f"({type(exc).__name__}: {exc}); calls on the line go on, their outcomes "
                                 f"are kept and opt-outs journaled; retrying every {self.config.poll_s} s")
                down = True
                await self._wait_for_calls(tasks)

    async def _step(self, tasks: set[asyncio.Task], follow: bool, until: datetime | None) -> bool:
        """One round: catch the store up, start what is due, wait.  True when the run is over."""
        await self._catch_up()
        now = self.clock.now()
        if until is not None and now >= until:
            return True
        if self.follow_ups is not None:  # may put an account back in play, due now or later
            await _io(self.follow_ups.review, self._accounts, now)
        started = await self._start_due(tasks, now)
        if self.sms is not None:
            await _io(self.sms.send_due, now)
        if tasks:
            await self._wait_for_calls(tasks)
            return False
        if started:
            return False
        next_due = await _io(self.store.next_due, self.campaign)
        sms_due = await _io(self.sms.next_due) if (self.sms is not None and follow and until is not None) else None
        promise_due = (self.follow_ups.next_due() if (self.follow_ups is not None and follow and until is not None)
                       else None)  # a promise's reminder or check ahead
        if next_due is None and sms_due is None and promise_due is None:
            return True  # every account settled (and, when following to a deadline, every SMS sent)
        if next_due is not None and next_due <= now:
            # Due, but another worker holds it or every line is busy: wait in real time.
            await asyncio.sleep(self.config.poll_s)
            return False
        if not follow:
            return True
        upcoming = [t for t in (next_due, sms_due, promise_due) if t is not None]
        if until is not None and min(upcoming) >= until:
            return True  # nothing of ours can happen before the deadline; other workers' calls
            # still in progress reschedule their accounts themselves
        wake = min(t for t in (next_due, sms_due, promise_due, until) if t is not None)
        await self.clock.sleep(max(0.0, (wake - now).total_seconds()))
        return False

    async def _wait_for_calls(self, tasks: set[asyncio.Task]) -> None:
        """Up to poll_s in real time, less if a call ends."""
        if not tasks:
            await asyncio.sleep(self.config.poll_s)
            return
        done, _ = await asyncio.wait(tasks, timeout=self.config.poll_s, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            tasks.discard(task)
            task.result()  # a bug in the worker must surface, not vanish

    async def _catch_up(self) -> None:
        """Whatever the store missed while it was down: journaled opt-outs, then call outcomes."""
        await _io(self.opt_outs.replay)
        await self._save_unsaved()

    async def _save_unsaved(self) -> None:
        while self._unsaved:
            await self._save(self._unsaved[0])
            self._unsaved.pop(0)
            logger.warning(f"campaign {self.campaign}: a call outcome kept while the store was down is saved")

    # -- one dial -------------------------------------------------------------------------
    async def _account(self, account_id: str) -> Account | None:
        if account_id not in self._accounts:
            self._accounts = await _io(self.store.accounts, self.campaign)  # registered by another worker
        return self._accounts.get(account_id)

    async def _start_due(self, tasks: set[asyncio.Task], now: datetime) -> int:
        free = self.config.concurrency - len(tasks)
        started = 0
        if free <= 0:
            return 0
        for account_id in await _io(self.store.due, self.campaign, now, limit=4 * free + 10):
            if self.opt_outs.journaled(account_id):
                # The store may have lost this opt-out (or never got it): tell it again, settle.
                await _io(self.opt_outs.copy_to_store, account_id)
                claim: Lease | str = "opted_out"
            else:
                claim = await _io(self.store.claim, self.campaign, account_id, self.worker_id, now,
                                  self.config.lease_ttl_s, self.config.concurrency)
            if claim == "no_line":
                break
            if claim == "opted_out":
                await _io(self.store.settle, self.campaign, account_id, "opted_out", now)
                self.listener.settled(await _io(self.store.state, self.campaign, account_id))
                continue
            if isinstance(claim, str):
                continue
            task = await self._begin(claim, now)
            if task is None:
                continue
            tasks.add(task)
            started += 1
            if started >= free:
                break
        return started

    async def _begin(self, lease: Lease, now: datetime) -> asyncio.Task | None:
        """Check the window and caps under the lease; dial, or put the account back for later."""
        state = await _io(self.store.state, self.campaign, lease.account_id)
        account = await self._account(lease.account_id)
        try:
            if account is None:
                raise ValueError("account data missing from the campaign")
            debtor = debtor_time(account)   # the same clock the contact rules use
            stage = stage_for(account, self.scripts_for)
        except (KeyError, ValueError) as exc:
            reason = exc.args[0] if exc.args else str(exc)
            state = state.model_copy(update={"status": "done", "final": "not_callable", "next_at": None,
                                             "note": str(reason), "updated_at": now})
            await _io(self.store.defer, lease, state)
            self.listener.settled(state)
            return None
        if state.follow_up and self.follow_ups is not None:
            if not await self._follow_up_still_due(lease, state, account, now):
                return None
        return await self._dial_checked(lease, state, account, debtor, stage, now)

    async def _follow_up_still_due(self, lease: Lease, state: AccountState, account: Account, now: datetime) -> bool:
        """A follow-up dial goes ahead only while its promise is still unpaid; money that came
        since ends it (the account is resolved again), and a book that cannot be read puts it
        off rather than risk telling a debtor who paid that they did not."""
        try:
            paid = await _io(self.follow_ups.paid_since, account.id, state.follow_up, now)
        except self.store.unavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the promise book away
            logger.warning(f"campaign {self.campaign}: {account.id}: follow-up put off, the promise book "
                           f"did not answer ({type(exc).__name__}: {exc})")
            later = state.model_copy(update={"next_at": now + BOOK_RETRY, "waiting_for": "promise_book",
                                             "updated_at": now})
            await _io(self.store.defer, lease, later)
            return False
        if paid is not None:
            logger.info(f"campaign {self.campaign}: {account.id}: {paid}")
            done = state.model_copy(update={"status": "done", "final": "resolved", "next_at": None, "waiting_for": None,
                                            "follow_up": None, "note": paid, "updated_at": now})
            await _io(self.store.defer, lease, done)
            self.listener.settled(done)
            return False
        return True

    async def _dial_checked(self, lease: Lease, state: AccountState, account: Account, debtor, stage: str,
                            now: datetime) -> asyncio.Task | None:
        """The account's dial, if the campaign's settings and the jurisdiction's rules allow it now."""
        # The campaign's own window and caps first (a stricter setting on top of the law),
        # then the jurisdiction's contact rules, fed with this debt's attempts in any campaign.
        # With no known clock there is no local hour to judge: the rules refuse it, by name.
        contacts = await _io(self.store.contacts_since, account.id, now - CAP_LOOKBACK)
        gate = contact_gate(self.config, debtor, now, contacts) if debtor.known else None
        if gate is not None and not gate.allowed:
            own = Decision(False, gate.reason, f"campaign setting {gate.reason}", gate.next_at, "campaign")
            return await self._blocked(lease, state, account, own, now, gate.next_at, gate.reason)
        call_id, opted_out = uuid.uuid4().hex[:12], await _io(self.opt_outs.is_opted_out, account.id)
        decision, attempt_id = await _io(self.dials.judge, account, now, opted_out, call_id)
        if not decision.allowed:
            later = ((debtor.next_opening([self.config.calling_window], decision.next_allowed_at)
                      or decision.next_allowed_at) if decision.next_allowed_at else None)
            return await self._blocked(lease, state, account, decision, now, later, decision.rule)
        state = state.model_copy(update={"attempts": state.attempts + 1, "updated_at": now})
        conversation = state.answered + 1
        if state.follow_up:  # the script's on_broken_promise branch says the promise
            account = with_prior_promise(account, state.follow_up)
        request = CallRequest(account=account, stage=stage, attempt=state.attempts, conversation=conversation,
                              voice=voice_for(account, stage, conversation, self.scripts_for),
                              call_id=call_id, today=debtor.local_date(now))
        try:
            await _io(self.store.begin_call, lease, request.call_id, now, state)
        except BaseException:
            self.dials.not_placed(attempt_id)
            raise
        self._attempt_ids[call_id] = attempt_id
        self._keeper.add(lease)
        self.listener.call_started(request)
        return asyncio.create_task(self._call(lease, state, request), name=f"call-{account.id}")

    async def _blocked(self, lease: Lease, state: AccountState, account: Account, decision: Decision,
                       now: datetime, next_at: datetime | None, waiting_for: str | None) -> None:
        """Log the refused dial with its rule, and put the account back for the next allowed
        time; with none (opted out, no jurisdiction or time zone) it leaves the campaign."""
        entry = blocked_entry(account, decision, now, "campaign", campaign=self.campaign, worker=self.worker_id)
        await _io(self.store.log_blocked, self.campaign, entry)
        if self.audit is not None:
            self.audit.write(entry)
        if next_at is None:
            final = "opted_out" if decision.rule == "opt_out" else "not_callable"
            state = state.model_copy(update={"status": "done", "final": final, "next_at": None, "waiting_for": None,
                                             "note": f"{entry['rule']}: {decision.reason}", "updated_at": now})
            await _io(self.store.defer, lease, state)
            self.listener.settled(state)
            return None
        state = state.model_copy(update={"next_at": next_at, "waiting_for": waiting_for, "updated_at": now})
        await _io(self.store.defer, lease, state)
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
        dial_ended(answer.status, answer.outcome)
        if answer.outcome == "opted_out":  # durable first, before anything about the call
            self.opt_outs.journal_only(request.account.id, ended, f"campaign:{self.campaign}",
                                       call_id=request.call_id, worker=self.worker_id)
        new_state = after_call(self.config, state, answer, ended, debtor_time(request.account))
        summary = answer.summary or {}
        record = CallRecord(
            call_id=request.call_id, campaign=self.campaign, account_id=request.account.id,
            worker=self.worker_id, attempt=request.attempt, conversation=request.conversation,
            stage=request.stage, voice=str(summary.get("voice") or request.voice), status=answer.status,
            outcome=answer.outcome, score=summary.get("score"), session_call_id=summary.get("call_id"),
            started_at=started, ended_at=ended, wall_start=wall_start, wall_end=wall_end, error=answer.error)
        self._result.calls.append(record)
        finished = FinishedCall(lease, request, answer, new_state, record)
        try:
            await self._save(finished)
        except self.store.unavailable as exc:
            logger.error(f"campaign {self.campaign}: the outcome of call {request.call_id} ({request.account.id}: "
                         f"{answer.outcome or answer.status}) could not be written to the store "
                         f"({type(exc).__name__}: {exc}); kept, and written when the store answers again"
                         + ("; the opt-out is in the opt-out journal" if answer.outcome == "opted_out" else ""))
            self._unsaved.append(finished)

    async def _save(self, call: FinishedCall) -> None:
        """Write one call's outcome: its flags, the state and log (finish), its SMS triggers."""
        request, answer, summary = call.request, call.answer, call.answer.summary or {}
        answered = answer.status == "answered"
        await _io(self.store.note_result, request.account.id, request.call_id, answered,
                  answered and "identity_confirmed" in (summary.get("tags") or []))
        if not call.finished:  # a retry must not log the call twice
            # finish() adds an opt-out to the store's set even when the lease was lost meanwhile.
            await _io(self.store.finish, call.lease, call.state, call.record, opt_out=answer.outcome == "opted_out")
            call.finished = True
            self.dials.ended(self._attempt_ids.pop(request.call_id, None), answer,
                             answered and "identity_confirmed" in (summary.get("tags") or []))
            self._keeper.remove(call.lease)  # renewed until now, so a short outage does not lose it
        if self.sms is not None and answered:
            await _io(self.sms.after_call, request.account, summary, call.record.ended_at)
        if self.follow_ups is not None and answered:
            self.follow_ups.call_ended()  # its promise, if it made one, is in the book now
        self.listener.call_ended(call.record, call.state)


async def _io(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run one blocking store (or SMS store) call on a thread, so the event loop and the calls
    on it go on while Redis answers, or until its timeout says it will not."""
    return await asyncio.to_thread(call, *args, **kwargs)

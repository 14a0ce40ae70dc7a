"""The media-stream server's contact-rules gate: every call start is judged with the debtor's
whole contact history (telephony/contact_history.py, kept in the records store), so Reg F's
seven calls in seven days and cn's daily caps hold for calls no campaign placed too.

A start the rules forbid is closed with FORBIDDEN (4403) and its rule, and logged to the
records dir's compliance audit file (telephony/compliance_gate.py, shared with the campaigns).
An allowed outbound start is recorded in the same transaction that read the history; its
outcome is written when the call ends.  A campaign's dial still under way for the account is
this very call (placed through a carrier): it is taken over, not counted twice.

A call in (the debtor calling back, start `direction=inbound`) is not refused by rules made
for calls to the debtor; it is recorded, and a conversation on it starts the quiet days.

The history away (database down, a lock held past `contact_history_timeout_s`): the start is
refused (fail closed) with 1013 "try again later", an ERROR log line and an audit entry
`server:contact_history_unavailable`: without every attempt the caps cannot be vouched for,
and a carrier retries a 1013 later.  A call start never waits longer than that timeout.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

from dialogue.accounts import Account
from dialogue.compliance.rules import Decision, may_call
from telephony.compliance_gate import AUDIT_FILE, FORBIDDEN, AuditLog, CallForbidden, blocked_entry, check_at
from telephony.contact_history import ADOPT_WITHIN, ContactAttempt, ContactHistory, HistoryUnavailable
from voicebot.server.errors import TRY_AGAIN_LATER, StreamError
from voicebot.server.settings import ServerSettings

SOURCE = "media_stream"   # the audit log's name for this gate
HISTORY_WORKERS = 4       # threads of its own: a stalled database cannot take the loop's default pool
UNAVAILABLE = "contact_history_unavailable"


def direction_of(start: Any) -> str:
    """`inbound` when the start says the debtor called (`direction` on the start, or in its
    extra parameters); `outbound` otherwise."""
    value = getattr(start, "direction", None) or (getattr(start, "extra", None) or {}).get("direction")
    return "inbound" if str(value or "").lower() == "inbound" else "outbound"


class CallStartGate:
    """One per server (`app.state.call_gate`).  `history` None: the server judges window,
    holidays, jurisdiction, zone and opt-out only, and records nothing (`contact_history` off)."""

    def __init__(self, settings: ServerSettings, history: ContactHistory | None):
        self.settings, self.history = settings, history
        self.audit = AuditLog(Path(settings.records_dir) / AUDIT_FILE)
        self.timeout_s = settings.contact_history_timeout_s
        self._pool = ThreadPoolExecutor(HISTORY_WORKERS, thread_name_prefix="contact-history")
        self._taken_over: set[str] = set()  # campaign dials: they keep the campaign's call id

    async def admit(self, account: Account, start: Any, *, opted_out: bool = False,
                    at: datetime | None = None) -> str | None:
        """Raise StreamError unless the call may start; the recorded attempt's id (or None).
        `at`: the instant judged (default now, or midday of a pinned `call_date`)."""
        at = at or check_at(account, self.settings.call_date)
        attempt = ContactAttempt(account.id, account.phone, "call", direction_of(start),
                                 "inbound" if direction_of(start) == "inbound" else "server", at,
                                 call_id=getattr(start, "call_id", None))
        if attempt.direction == "inbound":
            return self.history.record(attempt) if self.history is not None else None
        if self.history is None:
            self._judge(account, may_call(account, [], at, opted_out=opted_out), at)
            return None
        give_up = threading.Event()
        work = self._pool.submit(self.history.start, attempt, lambda past: may_call(account, past, at, opted_out=opted_out),
                                 adopt_within=ADOPT_WITHIN, timeout_s=self.timeout_s, give_up=give_up)
        try:
            started = await asyncio.wait_for(asyncio.wrap_future(work), self.timeout_s + 1.0)
        except (TimeoutError, HistoryUnavailable) as exc:
            give_up.set()  # a start that still gets through rolls back instead of recording
            self._history_away(account, at, exc)
        self._judge(account, started.decision, at)
        if started.adopted and started.attempt_id:
            self._taken_over.add(started.attempt_id)
            logger.info(f"call start for {account.id}: the campaign's dial under way, taken over")
        return started.attempt_id

    def _judge(self, account: Account, decision: Decision, at: datetime) -> None:
        if not decision.allowed:
            self.audit.write(blocked_entry(account, decision, at, SOURCE))
            raise StreamError(FORBIDDEN, str(CallForbidden(decision)))

    def _history_away(self, account: Account, at: datetime, exc: Exception) -> None:
        why = str(exc) or f"no answer within {self.timeout_s:g} s"
        logger.error(f"call start for {account.id} refused: the contact history did not answer ({why}); "
                     "failing closed, since the attempt caps cannot be checked without it")
        decision = Decision(False, UNAVAILABLE, f"contact history unavailable: {why}", None, "server")
        self.audit.write(blocked_entry(account, decision, at, SOURCE))
        raise StreamError(TRY_AGAIN_LATER, "contact history unavailable: the contact rules cannot be "
                                           "checked now; try again later") from None

    def finish(self, attempt_id: str | None, summary: dict[str, Any] | None) -> None:
        """What came of an admitted call (None: it never ran to a summary); queued, never blocks."""
        if attempt_id is None or self.history is None:
            return
        summary = summary or {}
        tags = summary.get("tags") or []
        campaigns = attempt_id in self._taken_over
        self._taken_over.discard(attempt_id)
        self.history.finish(attempt_id, outcome=str(summary.get("outcome") or "not_started"),
                            connected=True, conversation="identity_confirmed" in tags,
                            call_id=None if campaigns else summary.get("call_id"),
                            account_id=summary.get("account"))  # a callback's identified account

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

"""SMS triggers from ../shared/SEEDS.md, planned after calls and sent when due.

- after a call in which the confirmed debtor made no payment or promise: the stage's
  `after_call_no_payment` template (the bill, minimum payment and how to pay);
- 5 days after the first reminder call, still unpaid: `five_days_unpaid` (card suspension,
  credit record);
- 8 days after it, still unpaid: `eight_days_unpaid` (contract, legal liability).

Each trigger fires at most once per account.  Only a call where the debtor's identity was
confirmed starts them: a reminder names a debt, and the scripts' rule is that a debt is never
disclosed to anyone but the debtor.  The template comes from the stage the account is in when
the message goes out (days overdue then = days overdue at the call + days since), so an early
account five days later gets the late stage's notice.

Sending honours, at send time: the opt-out set (never), the paid set (cancelled), the local
send windows cut to the jurisdiction's calling window (Regulation F's inconvenient hours cover
texts too; held to the next opening in every zone the debtor may be in) and the weekly cap
(held until a slot frees). The debtor's clock is the contact rules' own; a message for an
account with no known zone, or with no opening common to all its zones, is not sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dialogue.accounts import Account
from dialogue.compliance.local_time import DebtorTime
from dialogue.compliance.profile import CallingWindow
from dialogue.compliance.rules import debtor_time
from dialogue.script.loader import LocaleScripts
from dialogue.script.templates import TemplateError, render
from dialogue.session import account_values
from telephony.campaign.clock import Clock, SystemClock, utc
from telephony.campaign.stages import engine_scripts
from telephony.campaign.store import AccountFlags
from telephony.contact_history import ContactAttempt, ContactHistory
from telephony.sms.config import AFTER_CALL, EIGHT_DAYS, FIVE_DAYS, SmsConfig
from telephony.sms.models import PendingSms, SmsMessage
from telephony.sms.outbox import SmsSender
from telephony.sms.store import SmsStore

NO_REMINDER_OUTCOMES = frozenset({"opted_out", "wrong_party", "already_paid"})
COMMITTED_OUTCOMES = frozenset({"promise_to_pay", "partial_payment"})
SEND_RETRY = timedelta(minutes=5)


class SmsTriggers:
    def __init__(self, store: SmsStore, sender: SmsSender, flags: AccountFlags,
                 clock: Clock | None = None, config: SmsConfig | None = None,
                 scripts_for: Callable[[str], LocaleScripts] = engine_scripts,
                 history: ContactHistory | None = None):
        """`history`: the contact history each text sent is recorded in (an attempt on the
        `sms` channel: the record shows it, and the caps count it where a profile says so)."""
        self.store, self.sender, self.flags = store, sender, flags
        self.history = history
        self.clock = clock or SystemClock()
        self.config = config or SmsConfig()
        self.scripts_for = scripts_for

    # -- planning -------------------------------------------------------------------------
    def after_call(self, account: Account, summary: dict[str, Any], at: datetime | None = None) -> list[PendingSms]:
        """Plan the triggers an answered call sets off; returns the messages newly queued."""
        at = utc(at or self.clock.now())
        outcome = summary.get("outcome")
        if outcome in NO_REMINDER_OUTCOMES or self.flags.is_opted_out(account.id):
            return []
        if "identity_confirmed" not in (summary.get("tags") or []):
            return []
        planned: list[PendingSms | None] = []
        first = self.store.mark_first_reminder(account.id, at)
        reference = at if first else (self.store.first_reminder(account.id) or at)
        if outcome not in COMMITTED_OUTCOMES:
            planned.append(self._plan(account, AFTER_CALL, reference, at))
        if first:
            planned.append(self._plan(account, FIVE_DAYS, reference, at + self.config.five_days))
            planned.append(self._plan(account, EIGHT_DAYS, reference, at + self.config.eight_days))
        return [msg for msg in planned if msg is not None and self.store.schedule(msg)]

    def plan(self, account: Account, trigger: str, when: datetime, reference: datetime,
             ref: str | None = None) -> PendingSms | None:
        """Queue one `trigger` message for `account` at the first send window from `when`: the
        promise follow-up's reminder (`account` carries the promise it names, `ref` its id, so
        each promise is reminded of once).  None when it was planned before, the debtor opted
        out, or their local hour can never be known."""
        if self.flags.is_opted_out(account.id):
            return None
        msg = self._plan(account, trigger, utc(reference), utc(when))
        if msg is None:
            return None
        msg = msg.model_copy(update={"ref": ref})
        return msg if self.store.schedule(msg) else None

    def _windows(self, debtor: DebtorTime) -> list[CallingWindow]:
        """The configured send windows, cut to the debtor's jurisdiction's calling window."""
        return debtor.within_law(self.config.send_windows)

    def _plan(self, account: Account, trigger: str, reference: datetime, when: datetime) -> PendingSms | None:
        """The message, due at the first send window from `when`; None when the debtor's
        local hour can never be known to be inside one (nothing to send at a guess)."""
        debtor = debtor_time(account)
        due = debtor.next_opening(self._windows(debtor), when)
        if due is None:
            return None
        return PendingSms(account=account.model_dump(mode="json"), trigger=trigger, reference_at=reference,
                          due_at=due, held="window" if due > when else None)

    # -- sending --------------------------------------------------------------------------
    def next_due(self) -> datetime | None:
        return self.store.next_due()

    def send_due(self, now: datetime | None = None) -> list[SmsMessage]:
        """Send every message due now that the rules allow; hold or cancel the others."""
        now = utc(now or self.clock.now())
        sent = []
        for msg in self.store.take_due(now):
            message = self._try_send(msg, now)
            if message is not None:
                sent.append(message)
        return sent

    def _hold(self, msg: PendingSms, until: datetime, why: str) -> None:
        self.store.reschedule(msg.model_copy(update={"due_at": until, "held": why}))

    def _try_send(self, msg: PendingSms, now: datetime) -> SmsMessage | None:
        account = Account.model_validate(msg.account)
        if self.flags.is_opted_out(account.id):
            self.store.complete(msg, "cancelled:opted_out", now)
            return None
        if self.flags.is_paid(account.id):
            self.store.complete(msg, "cancelled:paid", now)
            return None
        debtor = debtor_time(account)
        windows = self._windows(debtor)
        if not debtor.inside(windows, now):
            opening = debtor.next_opening(windows, now)
            if opening is None:
                self.store.complete(msg, "cancelled:no_local_time", now)
            else:
                self._hold(msg, opening, "window")
            return None
        try:
            message = self.compose(account, msg, now)
        except (KeyError, TemplateError) as exc:
            reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            self.store.complete(msg, f"cancelled:{reason}", now)
            return None
        frees_at = self.store.reserve_send(account.id, message.id, now, self.config.max_per_week)
        if frees_at is not None:
            self._hold(msg, debtor.next_opening(windows, frees_at) or frees_at, "weekly_cap")
            return None
        try:
            self.sender.send(message)
        except Exception:  # noqa: BLE001 - any provider failure: give the slot back, try again later
            self.store.unreserve(account.id, message.id)
            self._hold(msg, debtor.next_opening(windows, now + SEND_RETRY) or now + SEND_RETRY, "send_error")
            return None
        self.store.complete(msg, "sent", now)
        if self.history is not None:  # queued by the history's writer: sending never waits on it
            self.history.record(ContactAttempt(account.id, message.to, "sms", "outbound", "sms", now,
                                               call_id=message.id, outcome="sent"))
        return message

    def compose(self, account: Account, msg: PendingSms, now: datetime) -> SmsMessage:
        """Render the trigger's template for the stage the account is in now.

        Raises KeyError when no stage covers the days overdue or the stage has no template for
        this trigger, TemplateError when the account lacks a value the template needs."""
        debtor = debtor_time(account)
        scripts = self.scripts_for(account.locale)
        elapsed = (debtor.local_date(now) - debtor.local_date(msg.reference_at)).days
        current = account.model_copy(update={"days_overdue": account.days_overdue + max(0, elapsed)})
        stage = scripts.stage_for_days(current.days_overdue)
        template = stage.sms.get(msg.trigger)
        if template is None:
            raise KeyError(f"stage {stage.name} has no {msg.trigger} template")
        text = render(scripts.sms[template], account_values(current, scripts))
        return SmsMessage(id=uuid.uuid4().hex[:16], account_id=account.id, to=account.phone,
                          locale=scripts.locale, trigger=msg.trigger, stage=stage.name, template=template,
                          text=text, reference_at=msg.reference_at, sent_at=now,
                          local_time=debtor.local(now).isoformat(), timezone=debtor.primary.key)

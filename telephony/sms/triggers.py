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
send windows (held to the next window opening) and the weekly cap (held until a slot frees).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dialogue.accounts import Account
from dialogue.script.loader import LocaleScripts
from dialogue.script.templates import TemplateError, render
from dialogue.session import account_values
from telephony.campaign.clock import Clock, SystemClock, utc
from telephony.campaign.stages import engine_scripts
from telephony.campaign.store import AccountFlags
from telephony.campaign.windows import inside, local, next_opening, zone
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
                 scripts_for: Callable[[str], LocaleScripts] = engine_scripts):
        self.store, self.sender, self.flags = store, sender, flags
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
        planned = []
        first = self.store.mark_first_reminder(account.id, at)
        reference = at if first else (self.store.first_reminder(account.id) or at)
        if outcome not in COMMITTED_OUTCOMES:
            planned.append(self._plan(account, AFTER_CALL, reference, at))
        if first:
            planned.append(self._plan(account, FIVE_DAYS, reference, at + self.config.five_days))
            planned.append(self._plan(account, EIGHT_DAYS, reference, at + self.config.eight_days))
        return [msg for msg in planned if self.store.schedule(msg)]

    def _plan(self, account: Account, trigger: str, reference: datetime, when: datetime) -> PendingSms:
        tz = zone(account.timezone, self.config.default_timezone)
        due = next_opening(self.config.send_windows, when, tz)
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
        tz = zone(account.timezone, self.config.default_timezone)
        if not inside(self.config.send_windows, now, tz):
            self._hold(msg, next_opening(self.config.send_windows, now, tz), "window")
            return None
        try:
            message = self.compose(account, msg, now)
        except (KeyError, TemplateError) as exc:
            reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            self.store.complete(msg, f"cancelled:{reason}", now)
            return None
        frees_at = self.store.reserve_send(account.id, message.id, now, self.config.max_per_week)
        if frees_at is not None:
            self._hold(msg, next_opening(self.config.send_windows, frees_at, tz), "weekly_cap")
            return None
        try:
            self.sender.send(message)
        except Exception:  # noqa: BLE001 - any provider failure: give the slot back, try again later
            self.store.unreserve(account.id, message.id)
            self._hold(msg, next_opening(self.config.send_windows, now + SEND_RETRY, tz), "send_error")
            return None
        self.store.complete(msg, "sent", now)
        return message

    def compose(self, account: Account, msg: PendingSms, now: datetime) -> SmsMessage:
        """Render the trigger's template for the stage the account is in now.

        Raises KeyError when no stage covers the days overdue or the stage has no template for
        this trigger, TemplateError when the account lacks a value the template needs."""
        tz = zone(account.timezone, self.config.default_timezone)
        scripts = self.scripts_for(account.locale)
        elapsed = (local(now, tz).date() - local(msg.reference_at, tz).date()).days
        current = account.model_copy(update={"days_overdue": account.days_overdue + max(0, elapsed)})
        stage = scripts.stage_for_days(current.days_overdue)
        template = stage.sms.get(msg.trigger)
        if template is None:
            raise KeyError(f"stage {stage.name} has no {msg.trigger} template")
        text = render(scripts.sms[template], account_values(current, scripts))
        return SmsMessage(id=uuid.uuid4().hex[:16], account_id=account.id, to=account.phone,
                          locale=scripts.locale, trigger=msg.trigger, stage=stage.name, template=template,
                          text=text, reference_at=msg.reference_at, sent_at=now,
                          local_time=local(now, tz).isoformat(), timezone=str(tz.key))

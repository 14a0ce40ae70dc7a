"""Following up promises from inside a campaign run: each round the worker asks `review`,
which has the book's promises judged at the campaign's "now" (dialogue/promises.py) and takes
the steps the stage's policy names (follow_up.py):

- remind: the stage's `promise_reminder` SMS, planned through the SMS triggers (their send
  windows, weekly cap, opt-out and paid checks still apply at send time);
- call: the account is put back in the campaign, due at the check, carrying the broken promise
  (`AccountState.follow_up`), so the worker's own claim, window, caps and the jurisdiction's
  contact rules decide when the dial really happens, and the call's script takes its
  `on_broken_promise` branch;
- escalate: the account leaves the campaign for a human queue (`handed_off`, the note names
  the queue and the broken promises); no more calls.

Each step is noted in the book first (`note_step` says whether this worker won it), so two
workers sharing a campaign never send a reminder twice or call twice about one promise.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from loguru import logger

from dialogue.accounts import Account
from dialogue.promises import REMINDER_TRIGGER, judge, with_prior_promise
from dialogue.script.models import FollowUpPolicy
from telephony.campaign.follow_up import FollowUpStep, next_steps, prior, terms, wake_at
from telephony.campaign.promise_book import PromiseBook, PromiseRecord, StateChange
from telephony.campaign.stages import ScriptsFor, engine_scripts
from telephony.campaign.store import CampaignStore

# A follow-up call reopens an account these finals left; the others (opted out, wrong party,
# handed to people, not callable) are never called again by a campaign.
REOPENABLE = frozenset({"resolved", "max_answered", "max_attempts"})
REFRESH_S = 60.0  # real seconds between looks at a book nothing in this run has changed


class ReminderTexts(Protocol):
    """The SMS side (`telephony.sms.triggers.SmsTriggers.plan`); a protocol, so the campaign
    does not import the SMS package."""

    def plan(self, account: Account, trigger: str, when: datetime, reference: datetime,
             ref: str | None = None) -> Any: ...


def policy_lookup(scripts_for: ScriptsFor):
    """The follow-up policy of the stage a promise was made in (None: not followed up)."""
    def policy_for(record: PromiseRecord) -> FollowUpPolicy | None:
        try:
            return scripts_for(record.locale).stage_entry(record.stage).follow_up
        except (KeyError, FileNotFoundError):
            return None
    return policy_for


def judge_book(book: PromiseBook, account_ids: Collection[str] | None, now: datetime, grace: timedelta,
               scripts_for: ScriptsFor = engine_scripts) -> list[PromiseRecord]:
    """Judge these accounts' promises at `now`, store the verdicts that changed, and return
    the promises as they stand (the payments import and the campaign both use it)."""
    records = book.promises(account_ids)
    if not records:
        return []
    policy_for = policy_lookup(scripts_for)
    verdicts = judge([terms(r, policy_for(r)) for r in records], book.payments({r.account_id for r in records}),
                     now, grace)
    changes = [StateChange(r.id, v.state, v.paid, now) for r in records
               if (v := verdicts[r.id]).state != r.state or abs(v.paid - r.paid) > 0.004]
    if changes:
        book.set_states(changes)
    return [replace(r, state=verdicts[r.id].state, paid=verdicts[r.id].paid) for r in records]


class PromiseFollowUps:
    def __init__(self, book: PromiseBook, store: CampaignStore, campaign: str, *,
                 sms: ReminderTexts | None = None, grace: timedelta = timedelta(0),
                 scripts_for: ScriptsFor = engine_scripts):
        self.book, self.store, self.campaign, self.sms = book, store, campaign, sms
        self.grace, self.scripts_for = grace, scripts_for
        self._policy_for = policy_lookup(scripts_for)
        self._wake: datetime | None = None
        self._dirty, self._looked_at = True, 0.0
        self.refresh_s = REFRESH_S
        self.taken: list[FollowUpStep] = []

    def call_ended(self) -> None:
        """A call of the campaign ended: it may have made a promise, look at the book again."""
        self._dirty = True

    def next_due(self) -> datetime | None:
        """When a promise of this campaign next needs looking at (after the last review)."""
        return self._wake

    def review(self, accounts: dict[str, Account], now: datetime) -> list[FollowUpStep]:
        """Judge the campaign's promises at `now` and take the steps due; returns them.  A book
        that cannot be read now (its database away) costs this round's follow-ups, not the
        calls: logged, and tried again next round.  The campaign store's outages are the
        worker's to handle, as everywhere.  Rounds come every poll while calls are on the line:
        the book is read only after a call ended, when a reminder or check is due, or every
        `refresh_s` (promises and payments from elsewhere: the server's calls, an import)."""
        quiet = not self._dirty and (self._wake is None or now < self._wake)
        if quiet and time.monotonic() - self._looked_at < self.refresh_s:
            return []
        self._dirty, self._looked_at = False, time.monotonic()
        try:
            return self._review(accounts, now)
        except self.store.unavailable:
            self._dirty = True
            raise
        except Exception as exc:  # noqa: BLE001 - any book failure; the calls go on
            self._dirty = True  # try again next round
            logger.opt(exception=exc).error(f"campaign {self.campaign}: promise follow-ups skipped "
                                            f"this round: {type(exc).__name__}: {exc}")
            return []

    def _review(self, accounts: dict[str, Account], now: datetime) -> list[FollowUpStep]:
        records = judge_book(self.book, list(accounts), now, self.grace, self.scripts_for)
        by_account: dict[str, list[PromiseRecord]] = {}
        for record in records:
            by_account.setdefault(record.account_id, []).append(record)
        taken = []
        for account_id, own in by_account.items():
            for step in next_steps(own, self._policy_for, now):
                if step.kind == "remind" and self.sms is None:
                    continue  # a run without SMS (--no-sms): no reminders
                if self._take(step, accounts[account_id], own, now):
                    taken.append(step)
                else:
                    self._dirty = True  # e.g. the account is on a call right now: next round again
        self._wake = wake_at(records, self._policy_for, now, self.grace)
        self.taken += taken
        return taken

    def _take(self, step: FollowUpStep, account: Account, own: list[PromiseRecord], now: datetime) -> bool:
        record = step.promise
        if step.kind == "remind" and self.sms is not None:
            # Planned once per promise whoever plans it (the SMS store keys it by the promise).
            self.sms.plan(with_prior_promise(account, prior(record)), REMINDER_TRIGGER, now,
                          step.due_at, ref=str(record.id))
            return self.book.note_step(record.id, "reminded", now)
        state = self.store.state(self.campaign, account.id)
        if step.kind == "call":
            if state.status == "done" and state.final not in REOPENABLE:
                self.book.note_step(record.id, "followed_up", now, f"not called: {state.final}")
                return False
            next_at = max(step.due_at, now)
            if state.status == "pending" and state.next_at is not None:
                next_at = min(next_at, state.next_at)
            update = {"status": "pending", "final": None, "next_at": next_at, "waiting_for": "promise_follow_up",
                      "follow_up": prior(record).model_dump(mode="json"), "note": None, "updated_at": now}
            if not self.store.restate(self.campaign, state.model_copy(update=update)):
                return False  # on a call right now: the next review tries again
            self.book.note_step(record.id, "followed_up", now, f"campaign {self.campaign}")
            logger.info(f"campaign {self.campaign}: {account.id} promised {record.amount:g} on "
                        f"{record.promised_on} and did not pay: follow-up call due "
                        f"{next_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
            return True
        broken = sum(1 for r in own if r.state == "broken")
        note = f"escalated to queue {step.detail}: {broken} broken promises"
        update = {"status": "done", "final": "handed_off", "next_at": None, "waiting_for": None,
                  "note": note, "updated_at": now}
        if not self.store.restate(self.campaign, state.model_copy(update=update)):
            return False
        self.book.note_step(record.id, "escalated", now, step.detail)
        logger.info(f"campaign {self.campaign}: {account.id} {note}")
        return True

    def paid_since(self, account_id: str, follow_up: dict[str, Any], now: datetime) -> str | None:
        """Why a follow-up dial about this promise must not happen now: money came since it was
        judged broken (paid after its window, or paid in time and reported late), so a call
        saying "it hasn't reached us yet" would be false.  None: it still stands broken.
        The book is judged afresh at `now`; a book that cannot be read raises, and the dial
        waits (`worker`), since guessing could tell a debtor who paid that they did not."""
        promise_id = follow_up.get("id")
        records = judge_book(self.book, [account_id], now, self.grace, self.scripts_for)
        record = next((r for r in records if r.id == promise_id), None)
        if record is None or record.state == "broken":
            return None  # an unknown promise (erased, or carried by hand): the call's own script decides
        return (f"follow-up cancelled: the promise of {record.amount:g} for {record.promised_on} "
                f"is now {record.state.replace('_', ' ')} ({record.paid:g} paid)")

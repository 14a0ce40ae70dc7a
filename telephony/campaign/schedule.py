"""Pure scheduling decisions, no I/O: may this account be dialled now, and when next after a
call.  Kept apart from the worker so each rule is tested with plain values.

Outcome classes (dialogue/outcome.py names the outcomes):
- a commitment or payment ends the account's campaign (`resolved`);
- an escalation, dispute or hardship goes to human collectors (`handed_off`);
- a wrong party or an opt-out ends it at once (an opt-out for every campaign);
- a callback is honoured on the named day, at the window's opening;
- an answered call without a commitment is redialled later with the other voice, up to
  `max_answered` answered calls;
- no answer, busy or a failed dial is retried on the `retry_delays` schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dialogue.compliance.local_time import DebtorTime
from telephony.campaign.config import CampaignConfig
from telephony.campaign.dialer import CallAnswer
from telephony.campaign.state import AccountState

RESOLVED = frozenset({"promise_to_pay", "partial_payment", "already_paid", "plan_requested"})
# Handed to people (and, for attorney and bankruptcy, no more calls by law).
HANDED_OFF = frozenset({"escalated", "disputed", "hardship", "attorney", "bankruptcy"})
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Gate:
    allowed: bool
    next_at: datetime | None = None   # when to look again, if not allowed
    reason: str | None = None         # window | daily_cap | weekly_cap


def contact_gate(config: CampaignConfig, clock: DebtorTime, now: datetime, contacts: list[datetime]) -> Gate:
    """May a dial start now?  `contacts` are this person's earlier dials (any campaign).

    The window holds in every zone the debtor may be in; with no such moment ahead, `next_at`
    is None and the account cannot be called by this campaign."""
    windows = [config.calling_window]
    if not clock.inside(windows, now):
        return Gate(False, clock.next_opening(windows, now), "window")
    day_start = clock.day_start(now)
    if sum(1 for c in contacts if c >= day_start) >= config.max_calls_per_day:
        return Gate(False, clock.next_opening(windows, clock.next_midnight(now)), "daily_cap")
    week = sorted(c for c in contacts if c > now - WEEK)
    if len(week) >= config.max_calls_per_week:
        frees_at = week[-config.max_calls_per_week] + WEEK
        return Gate(False, clock.next_opening(windows, frees_at), "weekly_cap")
    return Gate(True)


def _callback_at(config: CampaignConfig, clock: DebtorTime, now: datetime, answer: CallAnswer) -> datetime:
    raw = ((answer.summary or {}).get("details") or {}).get("callback_time")
    try:
        day = date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        day = None
    if day is not None:
        at = datetime.combine(day, config.calling_window.start, tzinfo=clock.primary)
        if at > now:
            return at
    return now + config.callback_default


def after_call(config: CampaignConfig, state: AccountState, answer: CallAnswer, now: datetime,
               clock: DebtorTime) -> AccountState:
    """The account's state once this dial has ended (attempts were counted when it started)."""
    s = state.model_copy(deep=True)
    s.last_status, s.updated_at, s.waiting_for = answer.status, now, None
    next_at: datetime | None = None
    final: str | None = None
    if answer.status == "answered":
        s.answered += 1
        s.unanswered_streak = 0
        outcome = answer.outcome or "no_commitment"
        s.last_outcome = outcome
        voice = (answer.summary or {}).get("voice")
        if voice:
            s.voices.append(str(voice))
        if outcome == "opted_out":
            final = "opted_out"
        elif outcome in RESOLVED:
            final = "resolved"
        elif outcome in HANDED_OFF:
            final = "handed_off"
        elif outcome == "wrong_party":
            final = "wrong_party"
        elif outcome == "callback":
            next_at, s.waiting_for = _callback_at(config, clock, now, answer), "callback"
        elif s.answered >= config.max_answered:
            final = "max_answered"
        else:
            next_at, s.waiting_for = now + config.redial_after_no_promise, "redial"
    else:
        s.unanswered_streak += 1
        s.last_outcome = None
        next_at, s.waiting_for = now + config.retry_delay(s.unanswered_streak), "retry"
    if final is None and s.attempts >= config.max_attempts:
        final = "max_attempts"
    if final is not None:
        s.status, s.final, s.next_at, s.waiting_for = "done", final, None, None  # type: ignore[assignment]
    else:
        # No opening in every zone: keep the raw time; the gate at that dial settles the account.
        s.next_at = clock.next_opening([config.calling_window], next_at) or next_at  # type: ignore[arg-type]
    return s

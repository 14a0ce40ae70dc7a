"""Pure follow-up decisions after a promise: when it is judged, when its reminder is due, and
which step each promise of an account needs now.  No I/O and no clock: `now` is an argument,
so a test can walk days in virtual time and get the steps production would take.

The policy is data, per stage (`follow_up:` under a stage in scripts/<locale>/strategy.yaml,
`dialogue.script.models.FollowUpPolicy`): a reminder SMS some days before the promised date,
the check some days after it, a follow-up call for a broken promise, and escalation to a human
queue after a number of broken promises.  An account that was escalated gets no further steps:
it is with people now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dialogue.promises import PriorPromise, PromiseTerms, check_time, promise_window
from dialogue.script.models import FollowUpPolicy
from telephony.campaign.promise_book import PromiseRecord

StepKind = Literal["remind", "call", "escalate"]
PolicyFor = Callable[[PromiseRecord], FollowUpPolicy | None]


@dataclass(frozen=True)
class FollowUpStep:
    kind: StepKind
    promise: PromiseRecord
    due_at: datetime          # when the step became due (a call's dial is placed by the rules)
    detail: str = ""          # escalate: the queue


def _zone(record: PromiseRecord) -> ZoneInfo:
    return ZoneInfo(record.timezone)


def terms(record: PromiseRecord, policy: FollowUpPolicy | None) -> PromiseTerms:
    """The promise's window, and its check (`check_days_after` the promised date, local)."""
    counts_from, due_by = promise_window(record.promised_on, record.made_on, _zone(record))
    check_at = None
    if policy is not None:
        check_at = datetime.combine(record.promised_on + timedelta(days=policy.check_days_after), time(0),
                                    tzinfo=_zone(record))
    return PromiseTerms(record.id, record.account_id, record.amount, counts_from, due_by, check_at)


def reminder_at(record: PromiseRecord, policy: FollowUpPolicy | None) -> datetime | None:
    """The start of the reminder day on the debtor's clock; None without a reminder, or when
    that day is not after the call (a promise for tomorrow: the call itself reminded them)."""
    if policy is None or policy.reminder_days_before == 0:
        return None
    day = record.promised_on - timedelta(days=policy.reminder_days_before)
    if day <= record.made_on:
        return None
    return datetime.combine(day, time(0), tzinfo=_zone(record))


def prior(record: PromiseRecord) -> PriorPromise:
    """The promise as the follow-up call's script (and the reminder) says it."""
    return PriorPromise(date=record.promised_on, amount=record.amount, currency=record.currency, id=record.id)


def next_steps(records: list[PromiseRecord], policy_for: PolicyFor, now: datetime) -> list[FollowUpStep]:
    """The steps due now for one account's promises (states already judged at `now`): at most
    one call (about its latest broken promise) or one escalation."""
    if any(r.escalated_at is not None for r in records):
        return []
    steps: list[FollowUpStep] = []
    for record in records:
        policy = policy_for(record)
        at = reminder_at(record, policy)
        if record.state == "pending" and record.reminded_at is None and at is not None and at <= now:
            steps.append(FollowUpStep("remind", record, at))
    broken = [r for r in records if r.state == "broken"]
    waiting = [r for r in broken if r.followed_up_at is None]
    if not waiting:
        return steps
    latest = max(waiting, key=lambda r: (r.promised_on, r.id))
    policy = policy_for(latest)
    if policy is None:
        return steps
    due = check_time(terms(latest, policy), timedelta(0))
    if policy.escalate_after_broken is not None and len(broken) >= policy.escalate_after_broken:
        steps.append(FollowUpStep("escalate", latest, due, policy.escalation_queue))
    elif policy.call_when_broken:
        steps.append(FollowUpStep("call", latest, due))
    return steps


def wake_at(records: list[PromiseRecord], policy_for: PolicyFor, now: datetime,
            grace: timedelta) -> datetime | None:
    """The next instant a promise of these may need a step: a reminder day, or a check."""
    times: list[datetime] = []
    for record in records:
        if record.state != "pending":
            continue
        policy = policy_for(record)
        at = reminder_at(record, policy)
        if at is not None and record.reminded_at is None and at > now:
            times.append(at)
        check = check_time(terms(record, policy), grace)
        if check > now:
            times.append(check)
    return min(times) if times else None

"""Call outcome, intent tags and the 0-100 collection score, computed when a call ends.

The score estimates how likely the account is to be paid without more effort, so human
collectors can sort their follow-up list (low score first for attention, high score to wait
for the promised payment).  Formula (documented in docs/scoring.md, tested in tests/):

    score = BASE[outcome]
          + 10 if a promise's date is within 3 days of the call, + 5 if within 7
          + 15 * share of the amount promised, for a partial payment
          + 5 if identity was confirmed (right-party contact)
          - 10 if the debtor refused at some point but the outcome is not `refused`
          - 5 per abusive turn (at most - 10)
          - 1 per day overdue beyond 3 (at most - 15)
    clamped to 0..100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from dialogue.policy.state import CallState

BASE = {
    "already_paid": 90, "promise_to_pay": 80, "partial_payment": 60, "plan_requested": 55,
    "callback": 45, "escalated": 40, "hardship": 35, "no_commitment": 30, "no_response": 25,
    "disputed": 20, "wrong_party": 15, "refused": 10, "opted_out": 5,
    "voicemail": 25,  # nobody spoke: as likely to pay as no_response
    # Collection stops by law (represented by an attorney; bankruptcy's automatic stay).
    "attorney": 15, "bankruptcy": 5,
    "abusive": 10,    # the bot ended the call after a second abusive turn
}

# Outcomes derived from what the debtor said when no node recorded one.  Never a promise:
# a promise is recorded only by a node, after the debtor said yes to it read back.
_FROM_INTENT = (
    ("already_paid", "already_paid"), ("request_plan", "plan_requested"),
    ("callback_later", "callback"), ("hardship", "hardship"), ("dispute", "disputed"),
    ("refuse_to_pay", "refused"),
)


@dataclass
class CallResult:
    outcome: str
    score: int
    tags: list[str]
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "score": self.score, "tags": self.tags, "details": self.details}


def decide_outcome(state: CallState, intents: list[str]) -> str:
    if state.opted_out:
        return "opted_out"
    if state.represented:
        return state.represented  # attorney | bankruptcy, whatever the script did next
    if state.third_party:
        return "wrong_party"
    if state.transfer_reason is not None and state.handoff != "unclaimed":
        return "escalated"
    if state.outcome:
        return state.outcome
    if not state.spoke:
        return "no_response"
    for intent, outcome in _FROM_INTENT:
        if intent in intents:
            return outcome
    return "no_commitment"


def summarise(state: CallState, intents: list[str], confidences: list[float], amount: float,
              days_overdue: int, today: date, threshold: float) -> CallResult:
    outcome = decide_outcome(state, intents)
    details: dict = {}
    if outcome in ("promise_to_pay", "partial_payment"):
        details["promise_date"] = state.slots.get("promise_date")
        details["promised_amount"] = state.slots.get("promised_amount") or (
            amount if outcome == "promise_to_pay" else None)
    if outcome == "callback" or "callback_time" in state.slots:
        details["callback_time"] = state.slots.get("callback_time")
    if state.transfer_reason:
        details["escalation_reason"] = state.transfer_reason
        if state.outcome:
            details["script_outcome"] = state.outcome  # e.g. hardship, before the transfer
    score = BASE[outcome]
    promise = details.get("promise_date")
    if promise:
        days = (date.fromisoformat(str(promise)) - today).days
        score += 10 if days <= 3 else 5 if days <= 7 else 0
    if outcome == "partial_payment" and details.get("promised_amount"):
        score += round(15 * min(1.0, float(details["promised_amount"]) / amount))
    if state.identity_confirmed:
        score += 5
    if "refuse_to_pay" in intents and outcome != "refused":
        score -= 10
    score -= min(10, 5 * state.abuse_count)
    score -= min(15, max(0, days_overdue - 3))
    tags = set(i for i in intents if i != "out_of_scope")
    tags.add(f"outcome:{outcome}")
    tags.add("identity_confirmed" if state.identity_confirmed else "identity_unconfirmed")
    if state.transfer_reason:
        tags.add(f"escalated:{state.transfer_reason}")
    if state.handoff:
        tags.add(f"handoff:{state.handoff}")
    if state.voicemail:
        tags.add(state.voicemail)
    if state.represented:
        tags.add(f"represented:{state.represented}")
    if state.retry_limit_hit:
        tags.add("repeated_misunderstanding")
    if state.verification_failures and not state.identity_confirmed:
        tags.add("verification_failed")  # a caller who never proved who they are: counts to a lockout
    if any(c < threshold for c in confidences):
        tags.add("low_confidence")
    return CallResult(outcome, max(0, min(100, score)), sorted(tags), details)

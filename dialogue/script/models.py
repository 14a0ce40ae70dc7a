"""Typed model of the script files; the JSON Schema published in scripts/schema is made from it.

Structure only: cross-references (node names, intents, variables, templates) are checked by
dialogue.script.checks so that each problem gets a precise, human message.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dialogue.compliance.profile import DisclosureName
from dialogue.intents import INTENTS

Outcome = Literal[
    "promise_to_pay", "partial_payment", "plan_requested", "already_paid", "refused",
    "disputed", "hardship", "wrong_party", "callback", "escalated", "opted_out", "no_response",
    "attorney", "bankruptcy", "abusive",
]
# Outcomes that record a commitment to pay: only ever entered after a yes to a read-back.
PROMISE_OUTCOMES = frozenset({"promise_to_pay", "partial_payment"})
EntityName = Literal["date", "amount"]
KnowledgeFact = Literal["date_of_birth", "postal_code"]
SlotName = Literal["promise_date", "promised_amount", "callback_time"]

_INTENT_KEYS = {"propertyNames": {"enum": list(INTENTS)}}

# Reserved target: go back to the node that was waiting before this detour and ask it again
# (the next variant of its prompt).
RESUME = "resume"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TransferSpec(_Strict):
    reason: str = Field(description="why the call goes to a human, shown to the agent")
    queue: str = Field("collections", description="agent queue to hand the call to")


class CallbackSpec(_Strict):
    default_delay_hours: int = Field(
        24, ge=1, description="when to call back if the debtor named no time")


class Action(_Strict):
    """Exactly one action per list item, e.g. `- transfer: {reason: hardship}`."""

    transfer: TransferSpec | None = None
    hangup: dict | None = Field(None, description="end the call after speaking: `hangup: {}`")
    sms: str | None = Field(None, description="name of an SMS template in sms.yaml")
    callback: CallbackSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_hangup(cls, data: object) -> object:
        # `- hangup:` with nothing after it is YAML null; the designer clearly meant hang up.
        if isinstance(data, dict) and "hangup" in data and data["hangup"] is None:
            return {**data, "hangup": {}}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> "Action":
        chosen = [k for k in ("transfer", "hangup", "sms", "callback") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("an action names exactly one of transfer, hangup, sms, callback")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("transfer", "hangup", "sms", "callback") if getattr(self, k) is not None)


class Node(_Strict):
    """One step of the conversation: what the bot says and where each intent leads."""

    say: str | list[str] | None = Field(
        None, description="prompt text; a list gives variants the bot rotates through")
    response: str | None = Field(None, description="name of a reusable prompt in responses.yaml")
    on: dict[str, str] = Field(
        default_factory=dict, description="intent -> next node", json_schema_extra=_INTENT_KEYS)
    default: str | None = Field(None, description="next node for any intent not handled")
    next: str | None = Field(None, description="continue to this node at once, without waiting")
    on_broken_promise: str | None = Field(
        None, description="on a call following up a broken promise, continue here instead of "
                          "`next`; only nodes past this branch may say {prior_promise_amount} "
                          "and {prior_promise_date}")
    capture: dict[EntityName, SlotName] = Field(
        default_factory=dict, description="entity -> slot filled from the debtor's answer")
    on_capture: str | None = Field(
        None, description="next node when the answer filled a captured slot but its intent "
                          "is not in `on` (e.g. the bare answer 'friday')")
    needs: dict[SlotName, str] = Field(
        default_factory=dict, description="slot -> node to go to when the slot is still empty")
    identity_check: bool = Field(
        False, description="this prompt asks whether we speak to the debtor: `affirm` confirms")
    knowledge_check: KnowledgeFact | None = Field(
        None, description="this prompt asks a caller for something only the debtor knows (on a "
                          "call the debtor placed): an answer matching the account confirms "
                          "identity and takes `on.confirm_identity`; another answer counts as a "
                          "failed try (settings.max_verification_failures)")
    interruptible: bool = Field(True, description="false for legal disclosures")
    disclosure: DisclosureName | None = Field(
        None, description="this prompt says a disclosure the jurisdiction requires; it is always "
                          "played non-interruptible")
    reprompt: str | None = Field(None, description="said when not understood or on silence")
    max_reprompts: int | None = Field(None, ge=0)
    readback: str | None = Field(
        None, description="node that reads the captured promise back (\"So that's $200 on "
                          "Tuesday the 15th, correct?\"); this node is entered only after a yes "
                          "there. Required on nodes recording a promise")
    actions: list[Action] = Field(default_factory=list)
    outcome: Outcome | None = Field(None, description="call outcome recorded on entering")
    end: bool = Field(False, description="the call ends after this prompt")

    @model_validator(mode="after")
    def _one_prompt(self) -> "Node":
        if self.say is not None and self.response is not None:
            raise ValueError("use either say or response, not both")
        return self

    @model_validator(mode="after")
    def _disclosure_is_heard_whole(self) -> "Node":
        # A legal disclosure the debtor talked over was not given: never let barge-in cut it.
        if self.disclosure is not None and self.interruptible:
            object.__setattr__(self, "interruptible", False)
        return self

    @property
    def is_terminal(self) -> bool:
        return self.end or any(a.kind in ("transfer", "hangup") for a in self.actions)


class StageSettings(_Strict):
    silence_timeout_s: float = Field(6.0, gt=0, description="silence before a reprompt")
    max_reprompts: int = Field(2, ge=0, description="reprompts per node before giving up")
    on_retry_limit: str = Field(description="node after too many reprompts")
    verify_identity: str = Field(
        description="node the engine goes to when a prompt would disclose before identity")
    abuse_warning: str = Field(description="node for the first abusive turn")
    abuse_limit: str = Field(description="node for the second abusive turn (transfer or close)")
    no_response: str | None = Field(None, description="node when the debtor never speaks")
    no_agent: str | None = Field(
        None, description="node when a transfer finds no agent in time (take a callback time); "
                          "without one the call goes to the queue's line anyway")
    identity_question: str | None = Field(
        None, description="node that asks for identity again when the debtor answers the "
                          "identity question with a question or a debt topic (\"how much do I "
                          "owe?\"); counted against max_reprompts, then on_retry_limit. None: the "
                          "waiting node's reprompt")
    max_turns: int = Field(40, ge=1, description="safety cap on debtor turns per call")
    verify_caller: str | None = Field(
        None, description="on a call the debtor placed: the `knowledge_check` node the engine goes "
                          "to when a prompt would disclose before identity (instead of "
                          "verify_identity, whose yes proves nothing on an inbound call)")
    max_verification_failures: int = Field(
        2, ge=1, description="wrong answers to a knowledge check before on_verification_failed")
    on_verification_failed: str | None = Field(
        None, description="node after too many wrong answers (a polite close or a transfer); "
                          "None: on_retry_limit")
    voicemail: str | None = Field(
        None, description="limited-content message left on an answering machine: a caller name "
                          "that does not reveal a debt, who to ask for, a callback number; never "
                          "an amount, a lender, a product or a debt term. None: hang up")


class StageScript(_Strict):
    stage: str
    start: str
    inbound_start: str | None = Field(
        None, description="first node when the debtor calls in (a callback): it must verify "
                          "identity with a knowledge_check before any debt detail")
    settings: StageSettings
    global_: dict[str, str] = Field(
        default_factory=dict, alias="global",
        description="intent -> node, used at every node that does not handle the intent",
        json_schema_extra=_INTENT_KEYS)
    nodes: dict[str, Node]


class DaysRange(_Strict):
    min: int = Field(ge=0)
    max: int | None = Field(None, ge=0)


class FollowUpPolicy(_Strict):
    """What follows a promise made in this stage (telephony/campaign/follow_up.py applies it;
    dialogue/promises.py judges kept or broken)."""

    reminder_days_before: int = Field(
        1, ge=0, description="SMS `promise_reminder` (a template under this stage's sms:) this many "
                             "days before the promised date, while unpaid; 0: no reminder")
    check_days_after: int = Field(
        1, ge=1, description="an unpaid promise is judged (partly kept or broken) at the start of "
                             "this many days after the promised date, on the debtor's clock")
    call_when_broken: bool = Field(
        True, description="a broken promise (nothing paid) gets a follow-up call, which takes the "
                          "script's `on_broken_promise` branch")
    escalate_after_broken: int | None = Field(
        2, ge=1, description="this many broken promises of one account: no more follow-up calls, "
                             "the account goes to a human queue; null: never")
    escalation_queue: str = Field("collections", description="the human queue escalated accounts go to")


class StageEntry(_Strict):
    name: str
    days_overdue: DaysRange
    script: str = Field(description="dialogue file of this stage, relative to the strategy")
    voices: list[str] = Field(min_length=1, description="voice ids; redials rotate through them")
    sms: dict[str, str] = Field(default_factory=dict, description="trigger -> SMS template name")
    follow_up: FollowUpPolicy | None = Field(
        None, description="reminder, check, follow-up call and escalation after a promise made in "
                          "this stage; none: promises are recorded but not followed up")


class NluConfig(_Strict):
    data: str = "nlu.yml"
    backend: Literal["builtin", "rasa"] = "builtin"
    confidence_threshold: float = Field(0.45, ge=0, le=1)
    protected_floor: float = Field(
        0.3, ge=0, le=1, description="a protected intent (opt-out, dispute, attorney, ...) wins "
                                     "over the top intent when its probability reaches this")
    context_boost: float = Field(
        1.5, ge=1, description="factor on the probabilities of the intents the waiting node "
                               "routes on (its `on:`), before choosing")
    embedding_weight: float = Field(
        0.0, ge=0, le=0.9, description="share of the sentence-embedding model in the built-in "
                                       "classifier's blend (0: character and word n-grams only); "
                                       "about 10 ms a turn")
    rasa_url: str | None = None


class Strategy(_Strict):
    locale: str
    currency: str = "USD"
    constants: dict[str, str] = Field(default_factory=dict)
    nlu: NluConfig = Field(default_factory=NluConfig)
    responses: str = "responses.yaml"
    sms: str = "sms.yaml"
    lint: str = "lint.yaml"
    dtmf: dict[str, str] = Field(default_factory=dict, description="keypad digit -> intent")
    asr_hints: list[str] = Field(
        default_factory=list,
        description="words the recogniser should favour (with the debtor's name and the lender)")
    stages: list[StageEntry] = Field(min_length=1)
    jurisdiction: str | None = Field(
        None, description="contact-rules profile these scripts are written for "
                          "(scripts/jurisdictions/NAME.yaml); its required disclosures are checked")
    amd: dict[str, float] = Field(
        default_factory=dict,
        description="answering-machine detection overrides for this locale, e.g. "
                    "{max_greeting_s: 2.0} (names as in voicebot.audio.amd.AmdSettings)")


class Responses(_Strict):
    responses: dict[str, str | list[str]]


class SmsTemplates(_Strict):
    templates: dict[str, str]


class LintRule(_Strict):
    pattern: str = Field(description="case-insensitive regular expression")
    reason: str = Field(description="shown to the designer, e.g. 'threat of arrest'")


class LintRules(_Strict):
    forbidden: list[LintRule] = Field(default_factory=list)
    debt_terms: list[str] = Field(
        default_factory=list, description="words that reveal a debt; barred before identity")


SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "strategy": Strategy,
    "stage": StageScript,
    "responses": Responses,
    "sms": SmsTemplates,
    "lint": LintRules,
}

"""A call as a sequence of turns: the object the chat CLI, the voice loop and the server drive.

It joins NLU, the stage policy and the record of every turn.  Listeners get each turn as it
happens, so a store can persist it at once and a crash loses nothing already said.
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from dialogue.accounts import Account
from dialogue.compliance.rules import local_today
from dialogue.entities.known_facts import answer_matches
from dialogue.formatting import money, percent, spoken_date, spoken_list
from dialogue.intents import PROTECTED_INTENTS
from dialogue.nlu.decision import DecisionSettings, decide
from dialogue.nlu.result import NluBackend, NluResult
from dialogue.outcome import CallResult, summarise
from dialogue.policy.engine import UNVERIFIABLE, StagePolicy
from dialogue.policy.state import BotReply, CallState
from dialogue.script.disclosure import node_texts
from dialogue.script.loader import LocaleScripts
from dialogue.script.templates import variables_in
from dialogue.promises import prior_promise
from dialogue.variables import PERSONAL, PROMISE_VARIABLES, SLOTS


log = logging.getLogger(__name__)


class CallSetupError(ValueError):
    """The call cannot start: the account lacks a value the stage's script will say."""


@dataclass
class TurnRecord:
    index: int
    kind: str                      # opening | speech | dtmf | silence | voicemail
    debtor_text: str | None
    nlu: dict[str, Any] | None
    node: str                      # node whose question was answered
    bot_text: str
    bot_nodes: list[str]
    prompts: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    events: list[str]
    end: bool
    at_ms: int = 0                 # milliseconds since the call started
    nlu_ms: float = 0.0

    @property
    def intent(self) -> str | None:
        return self.nlu["intent"] if self.nlu else None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def account_values(account: Account, scripts: LocaleScripts) -> dict[str, str]:
    """Every non-slot variable this account can fill, formatted for the locale."""
    loc = scripts.locale
    currency = account.currency or scripts.strategy.currency
    values = dict(scripts.strategy.constants)
    values.update({
        "name": account.name,
        "first_name": account.given_name,
        "amount": money(account.amount, currency, loc),
        "minimum_payment": money(account.minimum_payment, currency, loc),
        "due_date": spoken_date(account.due_date, loc),
        "days_overdue": str(account.days_overdue),
        "lender": account.lender,
        "payment_methods": spoken_list(account.payment_methods, loc),
        "agent_line": account.agent_line,
    })
    if account.late_fee is not None:
        values["late_fee"] = money(account.late_fee, currency, loc)
    if account.interest_rate is not None:
        values["interest_rate"] = percent(account.interest_rate, loc)
    promise = prior_promise(account)
    if promise is not None:  # a follow-up of a broken promise, or its reminder
        values["prior_promise_amount"] = money(promise.amount, promise.currency or currency, loc)
        values["prior_promise_date"] = spoken_date(promise.date, loc)
    return values


def required_variables(scripts: LocaleScripts, stage: str) -> dict[str, str]:
    """Variable -> first node (or SMS) that says it, for the stage's whole script."""
    needed: dict[str, str] = {}
    script = scripts.stages[stage]
    for name, node in script.nodes.items():
        texts = node_texts(node, scripts.responses)
        texts += [scripts.sms[a.sms] for a in node.actions if a.sms and a.sms in scripts.sms]
        for text in texts:
            for var in variables_in(text):
                needed.setdefault(var, name)
    for var in variables_in(script.settings.voicemail or ""):
        needed.setdefault(var, "voicemail")
    for template in scripts.stage_entry(stage).sms.values():
        for var in variables_in(scripts.sms.get(template, "")):
            needed.setdefault(var, f"sms {template}")
    # Slots are filled during the call; an earlier promise's values only on its follow-up,
    # whose branch the validator keeps them in.
    return {k: v for k, v in needed.items() if k not in SLOTS and k not in PROMISE_VARIABLES}


class CallSession:
    def __init__(self, scripts: LocaleScripts, nlu: NluBackend, account: Account,
                 stage: str | None = None, attempt: int = 1, today: date | None = None,
                 call_id: str | None = None, inbound: bool = False,
                 other_accounts: Sequence[Account] = (), verification_locked: bool = False):
        """`inbound`: the debtor called us (a callback); `other_accounts`: further accounts of
        the caller's number, one of which the knowledge check may turn out to be.
        `verification_locked`: callers from this number failed the check on too many recent
        calls (someone may be guessing a date of birth one call at a time): no answer is
        compared, every one counts as wrong, and the call closes the way a failed check does,
        without telling a guesser whether a guess was right."""
        self.scripts, self.nlu, self.account = scripts, nlu, account
        self.inbound = inbound
        self.verification_locked = inbound and verification_locked
        self._candidates = [account, *[a for a in other_accounts if a.id != account.id]]
        self.today = today or local_today(account)
        self.stage = stage or scripts.stage_for_days(account.days_overdue).name
        scripts.stage_entry(self.stage)  # unknown stage -> KeyError naming the stages
        self.attempt = attempt
        self.call_id = call_id or uuid.uuid4().hex[:12]
        values = account_values(account, scripts)
        missing = {v: where for v, where in required_variables(scripts, self.stage).items() if not values.get(v)}
        if missing:
            detail = ", ".join(f"{v} (used by {w})" for v, w in sorted(missing.items()))
            raise CallSetupError(f"account {account.id} cannot be called with the {self.stage} "
                                 f"script: no value for {detail}")
        self.policy = StagePolicy(scripts, self.stage, values, self._format_slot, attempt, self.today,
                                  broken_promise=prior_promise(account) is not None,
                                  verifier=self._verify)
        self.turns: list[TurnRecord] = []
        self.listeners: list[Callable[[TurnRecord], None]] = []
        self.events: list[dict[str, Any]] = []  # what happened between turns (barge-in, ...)
        self.event_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._t0 = time.monotonic()
        self._confidences: list[float] = []
        self._intents: list[str] = []
        # The call as it was before the last spoken turn, while that turn can still be taken
        # back (continue_turn): its state and the turn it undoes.
        self._before_last: tuple[CallState, TurnRecord] | None = None

    # -- formatting ----------------------------------------------------------------------
    def _format_slot(self, slot: str, raw: object) -> str:
        loc = self.scripts.locale
        if slot in ("promise_date", "callback_time"):
            return spoken_date(date.fromisoformat(str(raw)), loc)
        return money(float(raw), self.account.currency or self.scripts.strategy.currency, loc)

    def personal_values(self) -> list[str]:
        """This call's values that are about the debtor alone (names, exact amounts; captured
        ones too), as spoken: speech holding one of them is not cached beyond the call."""
        policy = self.policy
        values = [policy.values.get(name, "") for name in PERSONAL]
        values += [self._format_slot(slot, raw) for slot, raw in policy.state.slots.items() if slot in PERSONAL]
        return [v for v in values if v]

    def likely_first_prompts(self) -> list[str]:
        """The first words of the replies the debtor's next intent may bring (for a TTS to
        prepare their values); the call is not changed."""
        return self.policy.likely_first_prompts()

    # -- driving the call ----------------------------------------------------------------
    @property
    def ended(self) -> bool:
        return self.policy.state.ended

    @property
    def voice(self) -> str:
        """Redials alternate the stage's voices, per the strategy."""
        voices = self.scripts.stage_entry(self.stage).voices
        return voices[(self.attempt - 1) % len(voices)]

    @property
    def silence_timeout_s(self) -> float:
        return self.policy.stage.settings.silence_timeout_s

    def open(self) -> TurnRecord:
        try:
            reply = self.policy.start(inbound=self.inbound)
        except ValueError as exc:
            raise CallSetupError(str(exc)) from None
        if self.verification_locked:
            self.note("verification_locked")
        return self._record("opening", None, None, reply, "")

    def _verify(self, fact: str, text: str) -> bool | str | None:
        """Compare a knowledge answer with each account of the number; a match on another one
        makes it the call's account (its stage, its values) from here on."""
        if all(getattr(a, fact, None) in (None, "") for a in self._candidates):
            return UNVERIFIABLE
        verdicts = [answer_matches(fact, text, getattr(a, fact, None), self.scripts.locale)
                    for a in self._candidates]
        if self.verification_locked:
            return None if all(v is None for v in verdicts) else False  # an answer: wrong, whatever it is
        matched = [a for a, ok in zip(self._candidates, verdicts) if ok]
        if len(matched) == 1:
            if matched[0] is not self.account:
                self._switch_account(matched[0])
            return True
        if None in verdicts:
            return None
        return False  # no account, or two sharing the answer: neither can be told apart

    def accounts_in_question(self) -> list[str]:
        """The accounts a request heard now is about (an opt-out, say): the call's account, or,
        on a callback not yet verified, every account of the caller's number, since the bot
        cannot yet tell which debtor is speaking and calls to that number must all stop."""
        if self.inbound and not self.policy.state.identity_confirmed:
            return [a.id for a in self._candidates]
        return [self.account.id]

    def _switch_account(self, account: Account) -> None:
        self.account = account
        self.stage = self.scripts.stage_for_days(account.days_overdue).name
        self.policy.rebind(self.stage, account_values(account, self.scripts))
        self.note("account_identified", account=account.id, stage=self.stage)

    def prepare(self, text: str, continuing: bool = False) -> None:
        """Do the slow, stateless part of understanding `text` now (the classifier's sentence
        embedding, ~10 ms), so that a caller can run it in a worker thread and `hear` /
        `continue_turn` then stay quick on the event loop. Changes nothing in the call."""
        prepare = getattr(self.nlu, "prepare", None)
        if prepare is None:
            return
        prepare(self._continued(text) if continuing and self._before_last is not None else text)

    def hear(self, text: str) -> TurnRecord:
        started = time.perf_counter()
        result = self.nlu.parse(text, self.today)
        waiting = self.policy.waiting_node
        if waiting is not None and waiting.on:
            # The question the debtor is answering is evidence: decide again with its answers.
            cfg = self.scripts.strategy.nlu
            settings = DecisionSettings(cfg.confidence_threshold, cfg.protected_floor, cfg.context_boost)
            result = decide(result, settings, expected=waiting.on.keys())
        return self.hear_result(result, nlu_ms=(time.perf_counter() - started) * 1000)

    def hear_result(self, result: NluResult, kind: str = "speech", nlu_ms: float = 0.0) -> TurnRecord:
        node = self.policy.state.waiting
        before = copy.deepcopy(self.policy.state) if kind == "speech" else None
        reply = self.policy.hear(result)
        nlu = result.to_dict()
        answer = next((e for e in reply.events if e == "identity_verified" or e.startswith("verification_failed")), None)
        if answer is not None:
            # A knowledge answer ("March fifth, 1985") is what it answers, not what the classifier
            # made of it: its tag must not read "bankruptcy" to a supervisor or the outcome.
            nlu = {**nlu, "intent": "confirm_identity" if answer == "identity_verified" else "out_of_scope",
                   "classified_as": result.intent, "knowledge_answer": answer}
        self._intents.append(nlu["intent"])
        self._confidences.append(result.confidence)
        turn = self._record(kind, result.text, nlu, reply, node, nlu_ms)
        self._before_last = (before, turn) if before is not None and self._undoable(turn) else None
        return turn

    # -- a turn that was not over --------------------------------------------------------
    def can_continue(self) -> bool:
        """Whether the last turn may still be taken back because the debtor had not finished.

        Only a turn whose reply changed nothing outside this object can be: no action went to
        the carrier (transfer, SMS, hang-up), the call did not end, every prompt may be cut
        off by barge-in (a notice the law requires is said whole once begun, and must not be
        said twice), and its intent is not a protected one (an opt-out, a dispute or a request
        for a human stands as soon as it is heard, and listeners journal it at once)."""
        return self._before_last is not None and self.turns[-1] is self._before_last[1]

    def continue_turn(self, more: str) -> TurnRecord:
        """The debtor went on speaking just after their turn was taken as over ("I can pay" |
        "on Friday"): the bot's reply to the first part is undone and the whole sentence is
        heard as one turn. The first part's record stays (the transcript shows what was
        heard and said) and an event links the two.

        Raises:
            RuntimeError: the last turn cannot be taken back (see `can_continue`)."""
        if not self.can_continue():
            raise RuntimeError("the last turn cannot be continued: hear the words as a new turn")
        assert self._before_last is not None
        whole = self._continued(more)
        state, first = self._before_last
        self._before_last = None
        self.policy.state = state
        self._intents.pop()
        self._confidences.pop()
        self.note("turn_continued", turn=first.index, continued_with=more)
        return self.hear(whole)

    def _continued(self, more: str) -> str:
        """The sentence a continued turn is heard as: the last turn's words, then `more`."""
        assert self._before_last is not None
        return f"{self._before_last[1].debtor_text or ''} {more}".strip()

    @staticmethod
    def _undoable(turn: TurnRecord) -> bool:
        return (not turn.actions and not turn.end and turn.intent not in PROTECTED_INTENTS
                and all(p["interruptible"] for p in turn.prompts))

    def dtmf(self, digit: str) -> TurnRecord:
        intent = self.scripts.strategy.dtmf.get(digit)
        if intent is None:
            result = NluResult(f"<dtmf {digit}>", "out_of_scope", 1.0, source="dtmf")
        else:
            result = NluResult(f"<dtmf {digit}>", intent, 1.0, ((intent, 1.0),), source="dtmf")
        return self.hear_result(result, kind="dtmf")

    def silence(self) -> TurnRecord:
        node = self.policy.state.waiting
        return self._record("silence", None, None, self.policy.silence(), node)

    def note(self, kind: str, **detail: Any) -> None:
        """Record something the audio side saw, e.g. a barge-in, with the call's clock."""
        event = {"kind": kind, "at_ms": int((time.monotonic() - self._t0) * 1000), **detail}
        self.events.append(event)
        self._tell(self.event_listeners, event)

    def transfer_claimed(self, agent_id: str, endpoint: str | None = None) -> None:
        """An agent took the escalated call; the carrier transfers it after the last words."""
        self.policy.state.handoff = "claimed"
        self.note("handoff_claimed", agent_id=agent_id, endpoint=endpoint)

    def transfer_unclaimed(self, waited_s: float | None = None) -> TurnRecord:
        """Nobody claimed the escalated call in time: the dialogue goes on (see the policy)."""
        self.note("handoff_unclaimed", waited_s=waited_s)
        return self._record("no_agent", None, None, self.policy.agent_unavailable(), self.policy.state.node)

    def hangup(self) -> None:
        """The debtor hung up: nothing more is said; the outcome is computed from what was."""
        self.policy.state.ended = True

    def voicemail(self, leave_message: bool = True) -> TurnRecord:
        """An answering machine took the call: the limited-content message (see the policy)."""
        return self._record("voicemail", None, None, self.policy.voicemail(leave_message), "")

    def result(self) -> CallResult:
        threshold = self.scripts.strategy.nlu.confidence_threshold
        return summarise(self.policy.state, self._intents, self._confidences, self.account.amount,
                         self.account.days_overdue, self.today, threshold)

    def _record(self, kind: str, text: str | None, nlu: dict | None, reply: BotReply, node: str,
                nlu_ms: float = 0.0) -> TurnRecord:
        self.policy.remember_spoken(reply)
        turn = TurnRecord(
            index=len(self.turns), kind=kind, debtor_text=text, nlu=nlu, node=node,
            bot_text=reply.text, bot_nodes=list(reply.nodes),
            prompts=[{"text": p.text, "node": p.node, "interruptible": p.interruptible, "static": p.static}
                     for p in reply.prompts],
            actions=[a.to_dict() for a in reply.actions], events=list(reply.events), end=reply.end,
            at_ms=int((time.monotonic() - self._t0) * 1000), nlu_ms=round(nlu_ms, 3))
        self.turns.append(turn)
        self._tell(self.listeners, turn)
        return turn

    def _tell(self, listeners: list[Callable[[Any], None]], item: Any) -> None:
        """Every listener hears every turn and event, whatever another one does: a store or a
        disk that fails (a full disk, a database down) is logged and noted in the call's
        events, and the bot still answers; a failing listener must not turn a call into dead
        air, and the listeners after it (the opt-out journal among them) still run."""
        for listener in list(listeners):
            try:
                listener(item)
            except Exception as exc:  # noqa: BLE001 - any listener's failure, kept and told
                name = getattr(listener, "__qualname__", repr(listener))
                log.error("call %s: listener %s failed: %s", self.call_id, name, exc, exc_info=True)
                self.events.append({"kind": "listener_failed", "listener": name,
                                    "error": f"{type(exc).__name__}: {exc}",
                                    "at_ms": int((time.monotonic() - self._t0) * 1000)})

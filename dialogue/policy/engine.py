"""One policy for every stage: walks the stage's graph and enforces what no script may change.

Enforced here, whatever the YAML says: identity before any debt detail (the gate in `_enter`),
the debt-collection notice (the node marked `disclosure: debt_collection_notice`) before the
first debt detail on any path, even one the script routes around it,
no disclosure to third parties and an end to the call after `wrong_number`/`third_party`,
opt-out recorded and the call closed, one warning for abuse, capped reprompts and turns.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date

from dialogue.intents import CLOSING_INTENTS, IDENTITY_DETOURS, REPRESENTED_INTENTS
from dialogue.nlu.contradiction import denies
from dialogue.nlu.result import NluResult
from dialogue.policy.state import BotAction, BotReply, CallState, Prompt
from dialogue.script.disclosure import node_reveals, node_texts, text_reveals
from dialogue.script.graph import is_waiting, route_intent
from dialogue.script.loader import LocaleScripts
from dialogue.script.models import RESUME, Node, StageScript
from dialogue.script.templates import render, variables_in
from dialogue.variables import CONSTANTS

DEBT_NOTICE = "debt_collection_notice"

#: (fact, what the caller said) -> True matches the account, False does not, None: no answer in
#: it, UNVERIFIABLE: no account of the number holds that fact (the lender never supplied it).
Verifier = Callable[[str, str], "bool | str | None"]
UNVERIFIABLE = "unverifiable"

MAX_CHAIN = 12  # nodes entered in one step; a `next` cycle in a script must not hang a call

# Entities an intent fills even where the node captures nothing: a promise names its date,
# a callback request its time (whatever slot the node would capture).
_DEFAULT_CAPTURE = {
    "promise_to_pay": {"date": "promise_date", "amount": "promised_amount"},
    "partial_payment": {"date": "promise_date", "amount": "promised_amount"},
    "request_plan": {"date": "promise_date"},
    "callback_later": {"date": "callback_time"},
}
# Only answers that *give* a value fill a node's capture slots or take its `on_capture`:
# "friday", "yes, friday", "I'll pay friday".  "No, not today", "I lost my job, maybe next
# month" or "don't call me, I'll pay next week" carry dates that are not promises.
CAPTURE_INTENTS = frozenset({"out_of_scope", "affirm", "promise_to_pay", "partial_payment"})
# Answers that say yes to the identity question or to a promise read back.
YES_INTENTS = frozenset({"affirm", "confirm_identity"})
PROMISE_SLOTS = ("promise_date", "promised_amount")


class StagePolicy:
    def __init__(self, scripts: LocaleScripts, stage: str, values: dict[str, str],
                 format_slot: Callable[[str, object], str], attempt: int = 1,
                 today: date | None = None, broken_promise: bool = False,
                 verifier: Verifier | None = None):
        self.scripts = scripts
        self.format_slot = format_slot
        self.attempt = attempt
        self.today = today
        self.broken_promise = broken_promise  # this call follows up a broken promise: on_broken_promise
        self.verifier = verifier
        self.terms = tuple(scripts.lint.debt_terms)
        self.state = CallState()
        self.rebind(stage, values)

    def rebind(self, stage: str, values: dict[str, str]) -> None:
        """Speak for another account of the caller's number (found by its knowledge check),
        whose stage may differ; where the call stands is kept."""
        self.stage: StageScript = self.scripts.stages[stage]
        self.values = values
        self._notice = next((n for n, node in self.stage.nodes.items()
                             if node.disclosure == DEBT_NOTICE), None)
        self._readbacks = {node.readback for node in self.stage.nodes.values() if node.readback}

    # -- entering nodes -------------------------------------------------------------------
    def start(self, inbound: bool = False) -> BotReply:
        """`inbound`: the debtor called us; the stage's inbound opening, and identity only by
        a knowledge check (a "yes, it's me" from whoever dialled proves nothing)."""
        reply = BotReply()
        if inbound:
            if self.stage.inbound_start is None:
                raise ValueError(f"the {self.stage.stage} script has no inbound_start for a call the debtor placed")
            self.state.inbound = True
            self._enter(self.stage.inbound_start, reply)
        else:
            self._enter(self.stage.start, reply)
        return reply

    def _render(self, text: str) -> str:
        values = dict(self.values)
        for slot, raw in self.state.slots.items():
            values[slot] = self.format_slot(slot, raw)
        return render(text, values)

    def _variant(self, name: str, node: Node) -> str | None:
        texts = node_texts(node, self.scripts.responses)
        if node.reprompt:
            texts = texts[:-1]
        if not texts:
            return None
        seen = self.state.visits.get(name, 0)
        # Redials start on another variant, so a second call does not repeat the first.
        return texts[(seen + self.attempt - 1) % len(texts)]

    def _enter(self, name: str, reply: BotReply, *, reprompt: bool = False, depth: int = 0) -> None:
        state = self.state
        if depth > MAX_CHAIN:
            reply.events.append(f"chain_limit:{name}")
            reply.end = state.ended = True
            return
        if name == RESUME:
            name = state.waiting or self.stage.start
        node = self.stage.nodes[name]
        for slot, ask in node.needs.items():
            if slot not in state.slots:
                reply.events.append(f"needs:{slot}->{ask}")
                return self._enter(ask, reply, depth=depth + 1)
        if not state.identity_confirmed:
            why = node_reveals(node, self.scripts.responses, self.terms)
            if why:
                settings = self.stage.settings
                verify = settings.verify_caller if state.inbound else settings.verify_identity
                reply.events.append(f"identity_gate:{name}")
                if verify is None:  # an inbound call on a script that cannot verify a caller
                    reply.events.append("identity_gate:close")
                    reply.end = state.ended = True
                    return
                if name == verify or state.third_party or node_reveals(
                        self.stage.nodes[verify], self.scripts.responses, self.terms):
                    reply.events.append("identity_gate:close")
                    reply.end = state.ended = True
                    return
                return self._enter(verify, reply, depth=depth + 1)
        if state.represented and node_reveals(node, self.scripts.responses, self.terms):
            # An attorney or a bankruptcy was named: no more collection talk on this call.
            reply.events.append(f"represented_gate:{name}")
            reply.end = state.ended = True
            return
        if node.readback is not None:
            if state.readback_yes != node.readback:
                reply.events.append(f"readback:{name}")
                return self._enter(node.readback, reply, depth=depth + 1)
            state.readback_yes = None
        if name == self._notice:
            state.notice_given = True
        elif (self._notice and not state.notice_given
              and node_reveals(node, self.scripts.responses, self.terms)):
            self._say_notice(reply)
        state.node = name
        reply.nodes.append(name)
        if node.outcome:
            state.outcome = node.outcome
        for action in node.actions:
            reply.actions.append(self._action(action))
        text = node.reprompt if (reprompt and node.reprompt) else self._variant(name, node)
        state.visits[name] = state.visits.get(name, 0) + 1
        if text:
            rendered = self._render(text)
            static = all(v in CONSTANTS for v in variables_in(text))
            reply.prompts.append(Prompt(rendered, name, node.interruptible, static))
        if node.is_terminal:
            reply.end = state.ended = True
            return
        if node.next is not None:
            follow = node.on_broken_promise if self.broken_promise and node.on_broken_promise else None
            return self._enter(follow or node.next, reply, depth=depth + 1)
        state.waiting = name
        if state.third_party or state.opted_out:
            # The script asked a question after a closing intent; the engine closes anyway.
            reply.events.append(f"forced_end:{name}")
            reply.end = state.ended = True

    def _say_notice(self, reply: BotReply) -> None:
        """Only the notice's words, not its transitions: the call goes on where it was going."""
        assert self._notice is not None
        state, node = self.state, self.stage.nodes[self._notice]
        state.notice_given = True
        reply.events.append(f"debt_notice_first:{self._notice}")
        text = self._variant(self._notice, node)
        state.visits[self._notice] = state.visits.get(self._notice, 0) + 1
        if text:
            static = all(v in CONSTANTS for v in variables_in(text))
            reply.prompts.append(Prompt(self._render(text), self._notice, False, static))

    def _action(self, action) -> BotAction:
        if action.transfer is not None:
            self.state.transfer_reason = action.transfer.reason
            return BotAction("transfer", {"reason": action.transfer.reason, "queue": action.transfer.queue})
        if action.sms is not None:
            text = self._render(self.scripts.sms[action.sms])
            return BotAction("sms", {"template": action.sms, "text": text})
        if action.callback is not None:
            when = self.state.slots.get("callback_time")
            return BotAction("callback", {"when": when, "default_delay_hours": action.callback.default_delay_hours})
        return BotAction("hangup")

    # -- debtor events --------------------------------------------------------------------
    def hear(self, result: NluResult) -> BotReply:
        state, reply = self.state, BotReply()
        if state.ended:
            reply.end = True
            return reply
        state.debtor_turns += 1
        state.spoke = True
        node = self.stage.nodes[state.waiting]
        intent = result.intent
        locale = self.scripts.locale
        if node.knowledge_check and not state.identity_confirmed:
            # A date of birth reads to the classifier as anything ("bankruptcy", a promise):
            # a turn that holds an answer is an answer, whatever its intent.
            answered = self._knowledge_answer(node, result, reply)
            if answered is not None:
                return answered
        if (node.identity_check and not state.identity_confirmed and intent in YES_INTENTS
                and denies(result.text, locale)):
            # "Yes, not me": a yes that contradicts itself never confirms identity.
            return self._ask_identity_again(reply, "identity_contradiction")
        captured = self._capture(node, result)
        if intent in ("wrong_number", "third_party"):
            state.third_party, state.identity_confirmed = True, False
        elif (intent == "confirm_identity" or (intent == "affirm" and node.identity_check)) and not state.inbound:
            if not state.third_party and not state.identity_confirmed:
                state.identity_confirmed = True
                reply.events.append("identity_confirmed")
        if intent == "stop_calling":
            state.opted_out = True
        if intent in REPRESENTED_INTENTS and not state.represented:
            state.represented = intent
            reply.events.append(f"represented:{intent}")
        if state.waiting in self._readbacks:
            self._heard_readback(intent, result.text, reply)
        if state.debtor_turns > self.stage.settings.max_turns:
            reply.events.append("max_turns")
            self._enter(self.stage.settings.on_retry_limit, reply)
            return reply
        if intent == "abusive":
            state.abuse_count += 1
            s = self.stage.settings
            self._enter(s.abuse_warning if state.abuse_count == 1 else s.abuse_limit, reply)
            if state.abuse_count > 1:
                state.outcome = "abusive"
                reply.end = state.ended = True
            return reply
        if ((node.identity_check or node.knowledge_check) and not state.identity_confirmed
                and intent in IDENTITY_DETOURS and intent not in node.on):
            # "How much do I owe?" before saying who they are: ask again, do not hang up.
            return self._ask_identity_again(reply, f"identity_detour:{intent}")
        target = node.on.get(intent)
        if target is None and captured and node.on_capture and intent in CAPTURE_INTENTS:
            target = node.on_capture
        if target is None:
            target = route_intent(self.stage, node, intent)
        if target is None:
            if intent == "repeat" and state.last_text:
                reply.prompts.append(Prompt(state.last_text, state.node, True))
                reply.events.append("repeat")
                return reply
            return self._reprompt(node, reply, "not_understood")
        state.reprompts[state.waiting] = 0
        self._enter(target, reply)
        if intent in CLOSING_INTENTS and not state.ended:
            reply.events.append(f"forced_end:{intent}")
            reply.end = state.ended = True
        return reply

    def _heard_readback(self, intent: str, text: str, reply: BotReply) -> None:
        """The answer to a promise read back: a plain yes lets the promise be recorded; a no
        forgets the date and amount so the script asks for them afresh."""
        state = self.state
        if intent in YES_INTENTS and not denies(text, self.scripts.locale):
            state.readback_yes = state.waiting
            reply.events.append("readback_confirmed")
        elif intent == "deny":
            for slot in PROMISE_SLOTS:
                state.slots.pop(slot, None)
            reply.events.append("readback_denied")

    def _knowledge_answer(self, node: Node, result: NluResult, reply: BotReply) -> BotReply | None:
        """The caller's answer to a knowledge check: a match confirms identity (and may have
        picked another account of the number: `rebind`), a wrong answer is counted and asked
        again up to the limit; a bare yes is asked again. None: not an answer, route the intent."""
        state = self.state
        assert node.knowledge_check is not None
        matched = self.verifier(node.knowledge_check, result.text) if self.verifier else False
        if matched == UNVERIFIABLE:
            # Nothing to compare with: no answer can be right, and "wrong" would be a lie that
            # also counts toward the number's lockout. A person verifies the caller instead.
            reply.events.append(f"verification_unavailable:{node.knowledge_check}")
            self._enter(route_intent(self.stage, node, "request_human")
                        or self.stage.settings.on_verification_failed or self.stage.settings.on_retry_limit, reply)
            return reply
        if matched is None:
            if result.intent in YES_INTENTS:
                reply.events.append("verification_needs_answer")
                self._enter(state.waiting, reply, reprompt=True)
                return reply
            return None
        settings = self.stage.settings  # after a match, maybe another account's stage
        if matched:
            state.identity_confirmed = True
            state.reprompts[state.waiting] = 0
            reply.events += ["identity_verified", "identity_confirmed"]
            waiting = self.stage.nodes.get(state.waiting) or self.stage.nodes[settings.verify_caller or ""]
            target = waiting.on["confirm_identity"]
            if result.intent == "stop_calling":  # "I was born ..., now stop calling me": the opt-out stands
                state.opted_out = True
                target = route_intent(self.stage, waiting, "stop_calling") or target
            self._enter(target, reply)
            return reply
        state.verification_failures += 1
        reply.events.append(f"verification_failed:{state.verification_failures}")
        if state.verification_failures >= settings.max_verification_failures:
            state.retry_limit_hit = True
            self._enter(settings.on_verification_failed or settings.on_retry_limit, reply)
        else:
            self._enter(state.waiting, reply, reprompt=True)
        return reply

    def _ask_identity_again(self, reply: BotReply, why: str) -> BotReply:
        """Identity stays unconfirmed and the question is asked once more (the stage's
        `identity_question` node, else the waiting node's reprompt); past the reprompt limit
        the call closes politely through `on_retry_limit`."""
        state, settings = self.state, self.stage.settings
        state.identity_asks += 1
        reply.events.append(f"{why}:{state.identity_asks}")
        if state.identity_asks > settings.max_reprompts:
            state.retry_limit_hit = True
            self._enter(settings.on_retry_limit, reply)
        elif settings.identity_question and not state.inbound:
            self._enter(settings.identity_question, reply)
        else:
            self._enter(state.waiting, reply, reprompt=True)
        return reply

    def likely_first_prompts(self, limit: int = 4) -> list[str]:
        """What the bot would say first after each intent the waiting node routes on, without
        changing the call: a TTS can render the account values in them while the debtor is
        still talking, instead of after the turn ends."""
        state = self.state
        if state.ended or not state.waiting:
            return []
        texts: list[str] = []
        for intent in self.stage.nodes[state.waiting].on:
            twin = copy.copy(self)
            twin.state = copy.deepcopy(state)
            reply = twin.hear(NluResult(intent, intent, 1.0))
            if reply.prompts and reply.prompts[0].text not in texts:
                texts.append(reply.prompts[0].text)
            if len(texts) == limit:
                break
        return texts

    def silence(self) -> BotReply:
        reply = BotReply()
        if self.state.ended:
            reply.end = True
            return reply
        return self._reprompt(self.stage.nodes[self.state.waiting], reply, "silence")

    def agent_unavailable(self) -> BotReply:
        """A transfer found no agent in time.  The debtor was promised a person, so the call
        does not just end: it reopens at the stage's `no_agent` node to take a callback time.
        A call that may not go on (third party, opt-out, abuse past its limit) or a script
        without that node ends here; the carrier then hands it to the queue's line as before."""
        state, reply = self.state, BotReply()
        state.handoff = "unclaimed"
        reply.events.append("handoff_unclaimed")
        target = self.stage.settings.no_agent
        if target is None or state.third_party or state.opted_out or state.abuse_count > 1:
            reply.end = state.ended = True
            return reply
        state.ended = False
        self._enter(target, reply)
        return reply

    def voicemail(self, leave_message: bool = True) -> BotReply:
        """An answering machine took the call: only the stage's limited-content message (or
        nothing, where the jurisdiction's profile says hang up), then the end, as `voicemail`.
        The validator already refuses a revealing template; checking again here keeps a message
        that names the debt off a machine anyone in the household can play."""
        state, template = self.state, self.stage.settings.voicemail
        reply = BotReply(nodes=["voicemail"], end=True, actions=[BotAction("hangup")])
        if leave_message and template and not text_reveals(template, self.terms):
            reply.prompts.append(Prompt(render(template, self.values), "voicemail", interruptible=False))
        state.voicemail = "voicemail_left" if reply.prompts else "voicemail_hung_up"
        reply.events.append(state.voicemail)
        state.outcome, state.ended = "voicemail", True
        return reply

    def _reprompt(self, node: Node, reply: BotReply, why: str) -> BotReply:
        state, settings = self.state, self.stage.settings
        count = state.reprompts.get(state.waiting, 0) + 1
        state.reprompts[state.waiting] = count
        limit = node.max_reprompts if node.max_reprompts is not None else settings.max_reprompts
        reply.events.append(f"{why}:{count}")
        if count > limit:
            state.retry_limit_hit = True
            target = settings.no_response if (not state.spoke and settings.no_response) else settings.on_retry_limit
            self._enter(target, reply)
            return reply
        self._enter(state.waiting, reply, reprompt=True)
        return reply

    def _capture(self, node: Node, result: NluResult) -> bool:
        """Fill slots from the turn's entities; True if the node's own capture got a value."""
        captured = False
        defaults = _DEFAULT_CAPTURE.get(result.intent, {})
        for entity in result.entities:
            slot = defaults.get(entity.entity)
            if result.intent in CAPTURE_INTENTS and entity.entity in node.capture:
                slot = node.capture[entity.entity]
                captured = True
            if slot is not None:
                self.state.slots[slot] = entity.value
        return captured

    def remember_spoken(self, reply: BotReply) -> None:
        if reply.prompts:
            self.state.last_text = reply.text

    @property
    def waiting_node(self) -> Node | None:
        node = self.stage.nodes.get(self.state.waiting)
        return node if node is not None and is_waiting(node) else None

"""Rules the engine enforces whatever a script says, checked on the shipped scripts.

The identity-first rule is property-based: hypothesis drives every stage of both locales with
arbitrary sequences of intents (with and without dates and amounts), and no bot word spoken
before identity is confirmed, nor after a third party answered, may reveal the debt."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CALL_DATE, REPO
from dialogue.engine import DialogueEngine
from dialogue.entities.entity import Entity
from dialogue.intents import INTENTS
from dialogue.nlu.result import NluResult
from dialogue.session import CallSetupError, account_values
from dialogue.variables import SENSITIVE

ACCOUNTS = {("en", "early"): "EN-EARLY-1", ("en", "mid"): "EN-MID-1", ("en", "late"): "EN-LATE-1",
            ("zh", "early"): "ZH-EARLY-1", ("zh", "mid"): "ZH-MID-1", ("zh", "late"): "ZH-LATE-1"}

_ENTITIES = st.sampled_from([(), (Entity("date", "2026-11-27", "friday", 0, 6),),
                             (Entity("amount", 100.0, "100", 0, 3),),
                             (Entity("date", "2026-12-01", "tuesday", 0, 7), Entity("amount", 50.0, "50", 8, 10))])
_TURN = st.one_of(
    st.tuples(st.sampled_from(INTENTS), _ENTITIES, st.floats(0.05, 1.0)),
    st.just(("<silence>", (), 1.0)),
)


def _revealing_strings(engine: DialogueEngine, account) -> list[str]:
    values = account_values(account, engine.scripts)
    texts = [values[v] for v in SENSITIVE if v in values]
    texts += [t for t in engine.scripts.lint.debt_terms]
    return [t for t in texts if t]


def _reveals(text: str, needles: list[str]) -> str | None:
    low = text.lower()
    return next((n for n in needles if n.lower() in low and (not n.isascii() or
                 f" {n.lower()}" in f" {low}")), None)


@pytest.mark.parametrize("locale,stage", sorted(ACCOUNTS))
def test_identity_first_on_every_path(engines, accounts, locale, stage):
    engine, account = engines[locale], accounts[ACCOUNTS[(locale, stage)]]
    needles = _revealing_strings(engine, account)
    stage_nodes = engine.scripts.stages[stage].nodes
    notice = next(n for n, node in stage_nodes.items() if node.disclosure == "debt_collection_notice")

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(_TURN, max_size=14))
    def run(turns):
        session = engine.start_call(account, stage=stage, today=CALL_DATE)
        opening = session.open()
        assert not _reveals(opening.bot_text, needles), opening.bot_text
        # A third party has answered, or an attorney or a bankruptcy was named: never disclose again.
        protected = False
        notice_said = False
        for intent, entities, confidence in turns:
            if session.ended:
                break
            if intent == "<silence>":
                turn = session.silence()
            else:
                protected |= intent in ("wrong_number", "third_party", "attorney", "bankruptcy")
                result = NluResult("x", intent, confidence, ((intent, confidence),), entities)
                turn = session.hear_result(result)
            state = session.policy.state
            for prompt in turn.prompts:  # the debt-collection notice comes before any debt detail
                notice_said |= prompt["node"] == notice
                if not notice_said:
                    leaked = _reveals(prompt["text"], needles)
                    assert not leaked, f"{leaked!r} before the debt-collection notice: {prompt} {turn.events}"
            if not state.identity_confirmed or protected:
                leaked = _reveals(turn.bot_text, needles)
                assert not leaked, f"revealed {leaked!r} before identity: {turn.bot_text!r} {turn.events}"
                assert not any(a["kind"] == "sms" for a in turn.actions), turn.actions
        session.hangup()
        result = session.result()
        if protected:
            assert result.outcome in ("wrong_party", "opted_out", "attorney", "bankruptcy")

    run()


def _session(engines, accounts, locale="en", stage="early"):
    session = engines[locale].start_call(accounts[ACCOUNTS[(locale, stage)]], stage=stage, today=CALL_DATE)
    session.open()
    return session


def test_third_party_gets_callback_message_only(engines, accounts):
    session = _session(engines, accounts)
    turn = session.hear("I'm his wife, he's not home")
    assert turn.end and session.ended
    assert "call" in turn.bot_text.lower() and "1-800-555-0142" in turn.bot_text
    assert "Cascade" not in turn.bot_text and "$" not in turn.bot_text
    assert session.result().outcome == "wrong_party"


def test_third_party_after_identity_still_protected(engines, accounts):
    session = _session(engines, accounts)
    session.hear("yes this is john")
    turn = session.hear("actually I'm his brother, this is not john")
    assert session.policy.state.third_party
    assert "$" not in turn.bot_text and session.ended


def test_stop_calling_is_opt_out_even_mid_question(engines, accounts):
    session = _session(engines, accounts, stage="mid")
    session.hear("yes this is maria")
    turn = session.hear("stop calling me")
    assert turn.end and session.result().outcome == "opted_out"
    assert "outcome:opted_out" in session.result().tags


def test_abuse_one_warning_then_close(engines, accounts):
    session = _session(engines, accounts)
    session.hear("yes this is john")
    first = session.hear("go to hell")
    assert not first.end and session.policy.state.abuse_count == 1
    assert first.bot_nodes[0] == "abuse_warning"
    second = session.hear("go to hell you idiot")
    assert second.end and second.bot_nodes[0] == "abuse_close"
    assert session.result().score <= 40


def test_silence_reprompts_then_closes(engines, accounts):
    session = _session(engines, accounts)
    limit = session.policy.stage.settings.max_reprompts
    turns = [session.silence() for _ in range(limit)]
    assert all(not t.end and t.bot_text for t in turns)
    last = session.silence()
    assert last.end and session.result().outcome == "no_response"


def test_not_understood_reprompts_then_gives_up(engines, accounts):
    session = _session(engines, accounts)
    session.hear("yes this is john")
    gibberish = NluResult("blah", "out_of_scope", 0.2)
    limit = session.policy.stage.settings.max_reprompts
    for _ in range(limit):
        turn = session.hear_result(gibberish)
        assert not turn.end and turn.bot_nodes == ["ask_commitment"]
    turn = session.hear_result(gibberish)
    assert turn.end and "repeated_misunderstanding" in session.result().tags


def test_repeat_says_last_words_again(engines, accounts):
    session = _session(engines, accounts)
    before = session.hear("yes this is john").bot_text
    again = session.hear_result(NluResult("what", "repeat", 0.9))
    assert again.bot_text == before


def test_dtmf_maps_to_script_intent(engines, accounts):
    session = _session(engines, accounts)
    session.hear("yes this is john")
    turn = session.dtmf("0")
    assert turn.nlu["intent"] == "request_human" and turn.nlu["source"] == "dtmf"
    assert any(a["kind"] == "transfer" for a in turn.actions)
    unknown = _session(engines, accounts).dtmf("7")
    assert unknown.nlu["intent"] == "out_of_scope"


def test_max_turns_caps_a_call(engines, accounts):
    session = _session(engines, accounts)
    session.hear("yes this is john")
    for _ in range(200):
        if session.ended:
            break
        session.hear_result(NluResult("how much", "ask_amount", 0.99))
    assert session.ended
    assert session.policy.state.debtor_turns <= session.policy.stage.settings.max_turns + 1


def test_missing_account_value_refused_at_call_start(engines, accounts):
    account = accounts["EN-EARLY-1"].model_copy(update={"late_fee": None})
    with pytest.raises(CallSetupError, match=r"late_fee \(used by consequences\)"):
        engines["en"].start_call(account, stage="early", today=CALL_DATE)


def test_unknown_stage_named(engines, accounts):
    with pytest.raises(KeyError, match="early, mid, late"):
        engines["en"].start_call(accounts["EN-EARLY-1"], stage="final", today=CALL_DATE)


def test_stage_follows_days_overdue(engines, accounts):
    stages = {aid: engines[a.locale].start_call(a, today=CALL_DATE).stage for aid, a in accounts.items()}
    assert stages["EN-EARLY-1"] == "early" and stages["EN-MID-1"] == "mid" and stages["EN-LATE-1"] == "late"
    assert stages["ZH-LATE-1"] == "late"


def test_engine_gate_overrides_a_script_that_discloses(tmp_path, accounts):
    """A script edited to say the amount in its greeting is refused by the validator, and even
    if loaded unchecked, the engine goes to identity verification instead of saying it."""
    from dialogue.nlu.factory import build_nlu
    from dialogue.script.checks import check_locale
    from dialogue.script.loader import read_locale

    folder = tmp_path / "en"
    shutil.copytree(REPO / "scripts" / "en", folder)
    early = folder / "early.yaml"
    early.write_text(early.read_text().replace(
        "May I speak with {name}?", "You owe {amount}. May I speak with {name}?"))
    scripts, problems = read_locale(folder)
    problems += check_locale(scripts)
    assert any(p.code == "identity-first" and "greeting" in p.message for p in problems)
    engine = DialogueEngine(scripts, build_nlu(scripts))
    session = engine.start_call(accounts["EN-EARLY-1"], stage="early", today=CALL_DATE)
    opening = session.open()
    assert "$1,250" not in opening.bot_text
    assert opening.bot_nodes == ["verify"] and "identity_gate:greeting" in opening.events


def _at_commitment(engines, accounts):
    session = _session(engines, accounts)
    session.hear("yes this is john")
    assert session.policy.state.waiting == "ask_commitment"
    return session


def test_opt_out_with_a_date_is_not_a_promise(engines, accounts):
    session = _at_commitment(engines, accounts)
    entities = (Entity("date", "2026-11-30", "next week", 0, 9),)
    turn = session.hear_result(NluResult("stop calling me, I'll pay next week", "stop_calling", 0.9,
                                         entities=entities))
    assert session.result().outcome == "opted_out"
    assert not any(a["kind"] == "sms" for a in turn.actions)
    assert "promise_date" not in session.policy.state.slots


def test_hardship_with_a_date_is_not_a_promise(engines, accounts):
    session = _at_commitment(engines, accounts)
    entities = (Entity("date", "2026-12-01", "next month", 0, 10),)
    session.hear_result(NluResult("I lost my job, maybe next month", "hardship", 0.9, entities=entities))
    result = session.result()
    assert result.outcome == "escalated" and result.details["escalation_reason"] == "hardship"
    assert "promise_date" not in session.policy.state.slots


def test_bare_date_answer_is_captured(engines, accounts):
    session = _at_commitment(engines, accounts)
    entities = (Entity("date", "2026-11-27", "friday", 0, 6),)
    turn = session.hear_result(NluResult("friday", "out_of_scope", 0.3, entities=entities))
    assert turn.bot_nodes[-1] == "readback_promise"  # read back before it is recorded
    turn = session.hear_result(NluResult("yes", "affirm", 0.9))
    assert turn.bot_nodes[0] == "confirm_promise"
    assert session.result().details["promise_date"] == "2026-11-27"


def test_callback_time_goes_to_callback_slot(engines, accounts):
    session = _at_commitment(engines, accounts)
    entities = (Entity("date", "2026-11-24", "tomorrow", 0, 8),)
    session.hear_result(NluResult("call me back tomorrow", "callback_later", 0.9, entities=entities))
    slots = session.policy.state.slots
    assert slots.get("callback_time") == "2026-11-24" and "promise_date" not in slots


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_unclaimed_transfer_reopens_for_a_callback_time(engines, accounts, locale):
    """No agent took the call: the dialogue goes on at `no_agent`, takes a callback time, and the
    outcome is a callback, tagged with the escalation and the unclaimed handoff."""
    session = _session(engines, accounts, locale=locale, stage="mid")
    session.hear_result(NluResult("yes", "confirm_identity", 0.9))
    transfer = session.hear_result(NluResult("a person please", "request_human", 0.9))
    assert transfer.end and [a["kind"] for a in transfer.actions] == ["transfer"]
    assert session.result().outcome == "escalated"
    reopened = session.transfer_unclaimed(waited_s=20.0)
    assert not reopened.end and not session.ended and reopened.bot_nodes == ["no_agent"]
    when = NluResult("tomorrow", "callback_later", 0.9, entities=(Entity("date", "2026-11-24", "tomorrow", 0, 8),))
    closing = session.hear_result(when)
    assert closing.end and [a["kind"] for a in closing.actions] == ["callback"]
    result = session.result()
    assert result.outcome == "callback" and result.details["callback_time"] == "2026-11-24"
    assert {"handoff:unclaimed", "escalated:request_human"} <= set(result.tags)


def test_unclaimed_transfer_never_reopens_a_closed_conversation(engines, accounts):
    """A transfer after a third party answered (or an opt-out) stays closed without an agent."""
    session = _session(engines, accounts)
    session.hear_result(NluResult("not me", "third_party", 0.9))
    session.policy.state.transfer_reason = "request_human"  # as if a script transferred here
    turn = session.transfer_unclaimed()
    assert turn.end and session.ended and not turn.prompts


def test_claimed_transfer_is_recorded(engines, accounts):
    session = _session(engines, accounts)
    session.hear_result(NluResult("yes", "confirm_identity", 0.9))
    session.hear_result(NluResult("a person please", "request_human", 0.9))
    session.transfer_claimed("agent-7", "sip:agent-7@desk")
    assert session.result().outcome == "escalated" and "handoff:claimed" in session.result().tags
    assert session.events[-1]["kind"] == "handoff_claimed"


def test_debt_notice_comes_first_even_when_a_script_routes_around_it(accounts, tmp_path):
    """A designer sends a confirmed debtor straight to the amount, skipping the notice node: the
    engine says the notice first (not interruptible), then the amount; never twice."""
    from dialogue.nlu.factory import build_nlu
    from dialogue.script.loader import read_locale

    folder = tmp_path / "en"
    shutil.copytree(REPO / "scripts" / "en", folder)
    early = folder / "early.yaml"
    text = early.read_text()
    greeting = text.index("  greeting:")
    end = text.index("\n\n", greeting)
    early.write_text(text[:greeting] + text[greeting:end].replace("confirm_identity: remind",
                                                                   "confirm_identity: tell_amount") + text[end:])
    scripts, _problems = read_locale(folder)
    engine = DialogueEngine(scripts, build_nlu(scripts))
    session = engine.start_call(accounts["EN-EARLY-1"], stage="early", today=CALL_DATE)
    session.open()
    turn = session.hear_result(NluResult("yes", "confirm_identity", 0.95))
    assert [p["node"] for p in turn.prompts][:2] == ["remind", "tell_amount"], turn.prompts
    assert "attempt to collect a debt" in turn.prompts[0]["text"] and not turn.prompts[0]["interruptible"]
    assert any(e.startswith("debt_notice_first") for e in turn.events)
    again = session.hear_result(NluResult("how much", "ask_amount", 0.95))
    assert all(p["node"] != "remind" for p in again.prompts)

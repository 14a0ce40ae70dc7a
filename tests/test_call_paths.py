"""Each stage's main paths in both locales, driven by text through the real NLU and scripts."""

from __future__ import annotations

import pytest

from conftest import CALL_DATE

EN = {"early": "EN-EARLY-1", "mid": "EN-MID-1", "late": "EN-LATE-1"}
ZH = {"early": "ZH-EARLY-1", "mid": "ZH-MID-1", "late": "ZH-LATE-1"}

# (locale, stage, debtor lines, expected outcome, an action kind the call must have produced)
PATHS = [
    ("en", "early", ["yes this is John", "I'll pay it on friday", "yes"], "promise_to_pay", "sms"),
    ("en", "early", ["speaking", "how much do I owe", "I can pay it next monday", "that's right"], "promise_to_pay", "sms"),
    ("en", "early", ["yes", "I already paid it yesterday", "yesterday"], "already_paid", None),
    ("en", "early", ["that's me", "I lost my job last month and can't pay"], "escalated", "transfer"),
    ("en", "early", ["yes it's me", "let me talk to a real person"], "escalated", "transfer"),
    ("en", "early", ["you have the wrong number"], "wrong_party", None),
    ("en", "early", ["I'm his wife, he's not home right now"], "wrong_party", None),
    ("en", "early", ["stop calling me"], "opted_out", None),
    ("en", "early", ["yes this is john", "I'm driving, call me later", "tomorrow"], "callback", "callback"),
    ("en", "early", ["this is john", "can I pay in installments", "no"], "plan_requested", "callback"),
    ("en", "mid", ["yes this is maria", "I'll pay next friday", "yes correct"], "promise_to_pay", "sms"),
    ("en", "mid", ["yes speaking", "I'm not paying that", "no I won't pay"], "refused", None),
    ("en", "mid", ["speaking", "I can only pay 100 dollars on friday", "yes"], "partial_payment", "sms"),
    ("en", "mid", ["yes this is maria", "that's not my loan"], "escalated", "transfer"),
    ("en", "late", ["yes this is david", "I'm not paying that"], "escalated", "transfer"),
    ("en", "late", ["this is david", "I'll pay the full amount on friday", "yeah"], "promise_to_pay", "sms"),
    ("en", "late", ["yes", "let me talk to a real person"], "escalated", "transfer"),
    ("zh", "early", ["对我就是", "我周五就还", "好的"], "promise_to_pay", "sms"),
    ("zh", "early", ["是我本人", "我昨天已经还了", "昨天"], "already_paid", None),
    ("zh", "early", ["你打错了,没这个人"], "wrong_party", None),
    ("zh", "early", ["我是他老婆,他不在"], "wrong_party", None),
    ("zh", "early", ["别再给我打电话了"], "opted_out", None),
    ("zh", "mid", ["对我就是", "我不会还的", "不还"], "refused", None),
    ("zh", "mid", ["是我", "我失业了,没钱"], "escalated", "transfer"),
    ("zh", "mid", ["我就是", "我下周五还", "好的"], "promise_to_pay", "sms"),
    ("zh", "late", ["对,我就是", "转人工"], "escalated", "transfer"),
    ("zh", "late", ["是我本人", "我不会还的"], "escalated", "transfer"),
    ("zh", "late", ["我就是", "我明天就全部还清", "好的"], "promise_to_pay", "sms"),
    # A promise read back and denied is not recorded; the date is asked for afresh.
    ("en", "early", ["yes this is John", "I'll pay it on friday", "no"], "no_commitment", None),
    ("en", "early", ["this is john", "I have a lawyer for this, talk to my attorney", "Jane Roe 555 0100"],
     "attorney", None),
    ("en", "mid", ["yes this is maria", "I filed for chapter 7 bankruptcy"], "bankruptcy", "transfer"),
    ("zh", "early", ["是我", "有事找我律师", "王律师 13800000000"], "attorney", None),
    ("zh", "mid", ["是我", "我已经申请个人破产了"], "bankruptcy", "transfer"),
]


def _run(engines, accounts, locale, stage, lines):
    ids = EN if locale == "en" else ZH
    session = engines[locale].start_call(accounts[ids[stage]], stage=stage, today=CALL_DATE)
    turns = [session.open()]
    for line in lines:
        if session.ended:
            break
        turns.append(session.hear(line))
    if not session.ended:
        session.hangup()
    return session, turns


@pytest.mark.parametrize("locale,stage,lines,outcome,action", PATHS,
                         ids=[f"{p[0]}-{p[1]}-{p[3]}-{i}" for i, p in enumerate(PATHS)])
def test_main_paths(engines, accounts, locale, stage, lines, outcome, action):
    session, turns = _run(engines, accounts, locale, stage, lines)
    transcript = "\n".join(f"{t.debtor_text} [{t.intent}] -> {t.bot_text}" for t in turns)
    result = session.result()
    assert result.outcome == outcome, transcript
    kinds = {a["kind"] for t in turns for a in t.actions}
    if action:
        assert action in kinds, transcript
    assert session.ended, transcript
    assert f"outcome:{outcome}" in result.tags
    assert 0 <= result.score <= 100


def test_promise_details_and_score(engines, accounts):
    session, _ = _run(engines, accounts, "en", "early", ["yes this is john", "I'll pay it on friday", "yes"])
    result = session.result()
    assert result.details["promise_date"] == "2026-11-27"
    assert result.details["promised_amount"] == accounts["EN-EARLY-1"].amount
    # 80 base + 10 (within 3 days... friday is 4 days away: +5) + 5 identity - 0 days beyond 3
    assert result.score == 80 + 5 + 5


def test_turn_records_carry_nlu_and_reply(engines, accounts):
    _, turns = _run(engines, accounts, "en", "early", ["yes this is john", "how can I pay"])
    turn = turns[2]
    assert turn.kind == "speech" and turn.debtor_text == "how can I pay"
    assert turn.nlu["intent"] == "ask_payment_method" and turn.nlu["confidence"] > 0.45
    assert turn.node == "ask_commitment" and turn.bot_nodes[0] == "payment_methods"
    assert "online banking" in turn.bot_text
    record = turn.to_dict()
    assert {"text", "intent", "confidence", "entities", "ranking"} <= set(record["nlu"])


def test_redial_uses_other_voice_and_wording(engines, accounts):
    first = engines["en"].start_call(accounts["EN-EARLY-1"], today=CALL_DATE, attempt=1)
    second = engines["en"].start_call(accounts["EN-EARLY-1"], today=CALL_DATE, attempt=2)
    assert first.voice != second.voice
    first.open(), second.open()
    a = first.hear("yes this is john").bot_text
    b = second.hear("yes this is john").bot_text
    assert a != b  # remind has two variants; a redial starts on the other

"""The understanding rules by voice, end to end (issue 18): synthesised debtor speech through
webrtcvad, Whisper tiny.en, the classifier, the policy and Piper over the simulated carrier.

Each scenario asserts its outcome and what must never be said on it: no debt detail to whoever
denied being the debtor, no hang-up on a debtor who asks a question before identity, no
promise noted without a yes to its read-back, no collection talk after an attorney is named."""

from __future__ import annotations

import asyncio

import pytest

from conftest import CALL_DATE
from voicebot.simulate import Simulation, parse_debtor

SPEED = 4.0
AMOUNT = "1,250"  # EN-EARLY-1's balance, as the bot says it


def _call(accounts, debtor, tmp_path):
    sim = Simulation(accounts["EN-EARLY-1"], parse_debtor(debtor), today=CALL_DATE, speed=SPEED,
                     records_dir=tmp_path)
    summary = asyncio.run(sim.run()).summary
    said = [t["bot_text"] for t in summary["turns"]]
    heard = [(t["debtor_text"], t["nlu"]["intent"]) for t in summary["turns"] if t["nlu"]]
    return summary, said, heard


def test_a_denial_by_voice_learns_nothing(accounts, tmp_path):
    summary, said, heard = _call(accounts, "no that's not me, you have the wrong number", tmp_path)
    assert summary["outcome"] == "wrong_party", heard
    assert not any(AMOUNT in s or "Cascade" in s for s in said), said


def test_a_question_before_identity_is_asked_again_by_voice(accounts, tmp_path):
    summary, said, heard = _call(accounts, "how much do I owe?|yes this is John|<hangup>", tmp_path)
    assert [i for _, i in heard][:2] == ["ask_amount", "confirm_identity"], heard
    second = summary["turns"][1]
    assert not second["end"] and second["bot_nodes"] == ["identity_again"], second
    assert AMOUNT not in second["bot_text"]
    assert any(AMOUNT in s for s in said[2:]), said  # told once identity is confirmed


def test_a_promise_denied_at_its_read_back_is_not_noted(accounts, tmp_path):
    summary, said, heard = _call(accounts, "yes this is John|I can pay it on Friday|no|<hangup>", tmp_path)
    assert any("Friday, November 27" in s and "right?" in s for s in said), said
    assert summary["outcome"] != "promise_to_pay", heard
    assert not any("I've noted" in s for s in said), said


def test_an_attorney_by_voice_stops_collection(accounts, tmp_path):
    summary, said, heard = _call(
        accounts, "yes this is John|talk to my attorney about this|his name is Robert Hill", tmp_path)
    assert ("attorney" in [i for _, i in heard]), heard
    assert summary["outcome"] == "attorney", heard
    after = said[[i for _, i in heard].index("attorney") + 2:]
    assert not any(AMOUNT in s for s in after), after

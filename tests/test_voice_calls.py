"""End-to-end audio calls: synthesised debtor speech through the real pipeline (webrtcvad,
Whisper tiny.en, the dialogue engine, Piper) over the simulated carrier, faster than real
time.  Each test asserts what the debtor should get: intents heard, outcome, actions, the
recording, barge-in and silence behaviour."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import CALL_DATE
from voicebot.simulate import Simulation, parse_debtor

SPEED = 3.0


def _simulate(accounts, account_id, debtor, tmp_path, **kwargs):
    sim = Simulation(accounts[account_id], parse_debtor(debtor), today=CALL_DATE, speed=SPEED,
                     records_dir=tmp_path, **kwargs)
    return asyncio.run(sim.run())


def _intents(summary):
    return [t["nlu"]["intent"] for t in summary["turns"] if t["nlu"]]


PROMISE = ("EN-EARLY-1", "yes this is John|I can pay it on Friday|yes")


@pytest.fixture(scope="module")
def promise_call(accounts, tmp_path_factory):
    """The early-stage promise call, simulated once for the tests that only read what it left
    (its turns, record files and recording): the same call three times took ~20 s each."""
    return _simulate(accounts, *PROMISE, tmp_path_factory.mktemp("promise"))


@pytest.mark.parametrize("account_id,debtor,intents,outcome,action", [
    (*PROMISE, ["confirm_identity", "promise_to_pay"], "promise_to_pay", "sms"),
    ("EN-MID-1", "yes this is Maria|I am not paying that|no I will not pay",
     ["confirm_identity", "refuse_to_pay"], "refused", None),
    ("EN-LATE-1", "yes this is David|let me talk to a real person",
     ["confirm_identity", "request_human"], "escalated", "transfer"),
], ids=["early-promise", "mid-refusal", "late-human"])
def test_audio_call_per_stage(request, accounts, tmp_path, account_id, debtor, intents, outcome, action):
    if (account_id, debtor) == PROMISE:
        result = request.getfixturevalue("promise_call")
    else:
        result = _simulate(accounts, account_id, debtor, tmp_path)
    summary = result.summary
    heard = _intents(summary)
    assert heard[:len(intents)] == intents, [t["debtor_text"] for t in summary["turns"]]
    assert summary["outcome"] == outcome
    if action:
        assert any(a["kind"] == action for t in summary["turns"] for a in t["actions"])
    # Every debtor turn has a measured latency, and the record on disk says the same.
    assert len(result.line_latencies_ms) >= len(intents)
    assert all(v > 0 for v in result.line_latencies_ms)
    saved = (result.records / f"{summary['call_id']}.json").read_text()
    assert f'"outcome": "{outcome}"' in saved
    events = (result.records / f"{summary['call_id']}.jsonl").read_text().splitlines()
    assert sum('"type": "turn"' in e for e in events) == len(summary["turns"])


def test_recording_is_stereo_debtor_left_bot_right(promise_call):
    path = Path(promise_call.summary["recording"])
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    seconds = len(audio) / 8000
    assert seconds > 10  # greeting, two replies and the debtor's lines
    left, right = audio[:, 0].astype(float), audio[:, 1].astype(float)
    win = 800  # 100 ms
    n = len(audio) // win
    l_rms = np.sqrt((left[: n * win].reshape(n, win) ** 2).mean(axis=1))
    r_rms = np.sqrt((right[: n * win].reshape(n, win) ** 2).mean(axis=1))
    assert (r_rms > 300).sum() * 0.1 > 6, "the bot's channel holds its prompts"
    assert (l_rms > 300).sum() * 0.1 > 1, "the debtor's channel holds the debtor's lines"
    # The greeting comes first: at the start only the bot speaks.
    assert r_rms[:20].max() > 300 and l_rms[:20].max() < 300


def test_barge_in_stops_an_interruptible_prompt(accounts, tmp_path):
    # Ask the amount, then talk 1.5 s into the (interruptible) answer.  (The reply to "yes this
    # is John" opens with the debt-collection notice, which may not be cut.)
    debtor = "yes this is John|how much do I owe|>1.5 I can pay it on Friday|yes"
    result = _simulate(accounts, "EN-EARLY-1", debtor, tmp_path)
    reminder = {t.text: t for t in result.debtor_timings}["I can pay it on Friday"]
    # Within one VAD window (start_secs 0.2 s) plus the carrier's 40 ms buffer and frames.
    assert reminder.bot_kept_talking_ms < 450, reminder
    assert "barge_in" in result.summary["events"]
    assert _intents(result.summary)[:3] == ["confirm_identity", "ask_amount", "promise_to_pay"]
    assert result.summary["outcome"] == "promise_to_pay"


def test_talking_over_the_disclosure_does_not_cut_it(accounts, tmp_path):
    # The greeting carries the recording notice and is marked interruptible: false.
    result = _simulate(accounts, "EN-EARLY-1", ">1.0 yes this is John|I can pay it on Friday|yes", tmp_path)
    greeting = {t.text: t for t in result.debtor_timings}["yes this is John"]
    # The bot was still talking when the debtor finished: the disclosure went on.
    assert greeting.bot_audio_until_s >= greeting.speech_end_s, greeting
    assert result.summary["outcome"] == "promise_to_pay"


def test_silence_reprompts_then_call_continues(accounts, tmp_path):
    result = _simulate(accounts, "EN-EARLY-1", "<silence>|yes this is John|I can pay it on Friday|yes", tmp_path)
    kinds = [t["kind"] for t in result.summary["turns"]]
    assert "silence" in kinds
    silent = result.summary["turns"][kinds.index("silence")]
    assert "John Carter" in silent["bot_text"]  # the greeting's reprompt asks again
    assert result.summary["outcome"] == "promise_to_pay"


def test_keypad_zero_reaches_a_human(accounts, tmp_path):
    result = _simulate(accounts, "EN-EARLY-1", "yes this is John|#0", tmp_path)
    dtmf = [t for t in result.summary["turns"] if t["kind"] == "dtmf"]
    assert dtmf and dtmf[0]["nlu"]["intent"] == "request_human"
    assert result.summary["outcome"] == "escalated"


def test_static_prompts_are_synthesised_once_per_process(promise_call, accounts, tmp_path):
    """"Will you be able to make at least the minimum payment...?" has no per-account value:
    the second call replays its cached audio instead of synthesising it again.  The first call
    is `promise_call`; the second needs only the reply to "yes this is John", which asks it."""
    from audio_models.prompt_cache import default_prompt_cache

    cache = default_prompt_cache()
    hits = cache.hits
    result = _simulate(accounts, "EN-EARLY-1", "yes this is John|<hangup>", tmp_path)
    static = [p for t in result.summary["turns"] for p in t["prompts"] if p["static"]]
    assert static, "the early script has prompts without per-account values"
    assert cache.hits > hits

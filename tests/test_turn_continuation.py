"""A debtor who goes on speaking just after their turn was taken as over ("I can pay" | pause |
"on Friday") had not finished: the bot's reply to the first half is cut off and undone, and the
whole sentence is heard as one turn.

On text: what a session may take back (`CallSession.continue_turn`) and what it restores. By
voice: the call's own listening side (webrtcvad, the text end of turn, Whisper) and the
DialogueProcessor, in lock-step, on Piper speech with a pause long enough to end the turn.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CALL_DATE
from dialogue.intents import PROTECTED_INTENTS
from test_turn_end import RATE, after_filler, listen, piper_line, show, silence
from voicebot.audio.vad.text_turn import TextTurnVADProcessor
from voicebot.pipeline import listening
from voicebot.pipeline.dialogue_processor import CONTINUE_WINDOW_S, DialogueProcessor
from voicebot.recording.stereo import StereoRecorder
from voicebot.recording.wav import GrowingWav


def confirmed(engines, accounts, account_id="EN-EARLY-1"):
    session = engines["en"].start_call(accounts[account_id], today=CALL_DATE)
    session.open()
    session.hear("yes, this is John")
    assert session.policy.state.identity_confirmed
    return session


def test_the_whole_sentence_is_heard_as_one_turn(engines, accounts):
    session = confirmed(engines, accounts)
    alone = confirmed(engines, accounts)
    waiting_before = session.policy.state.waiting
    first = session.hear("I can pay")
    assert session.can_continue() and session.policy.state.waiting != waiting_before

    turn = session.continue_turn("on Friday")

    whole = alone.hear("I can pay on Friday")  # what one unbroken turn gives
    assert turn.debtor_text == "I can pay on Friday"
    assert turn.intent == whole.intent == "promise_to_pay"
    assert turn.bot_nodes == whole.bot_nodes and turn.bot_text == whole.bot_text
    assert turn.node == waiting_before == first.node  # it answers the question the first half did
    assert session.result().to_dict() == alone.result().to_dict()  # the half turn counts nowhere
    assert [t.debtor_text for t in session.turns[-2:]] == ["I can pay", "I can pay on Friday"]
    assert session.events[-1]["kind"] == "turn_continued" and session.events[-1]["turn"] == first.index


def test_a_turn_goes_on_once(engines, accounts):
    session = confirmed(engines, accounts)
    session.hear("I can pay")
    session.continue_turn("on Friday")
    assert session.can_continue()  # the merged turn may itself be continued
    session.continue_turn("or maybe Saturday")
    assert session.turns[-1].debtor_text == "I can pay on Friday or maybe Saturday"


@pytest.mark.parametrize("said", ["stop calling me", "I want to talk to a person", "I don't owe this"])
def test_a_protected_request_stands_as_soon_as_it_is_heard(engines, accounts, said):
    session = confirmed(engines, accounts)
    turn = session.hear(said)
    assert turn.intent in PROTECTED_INTENTS, turn.intent
    assert not session.can_continue()
    with pytest.raises(RuntimeError, match="cannot be continued"):
        session.continue_turn("but not today")


def test_a_reply_that_reached_the_carrier_or_ended_the_call_is_not_undone(engines, accounts):
    session = engines["en"].start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
    session.open()
    turn = session.hear("you have the wrong number")  # ends the call
    assert turn.end and not session.can_continue()
    session = confirmed(engines, accounts)
    session.hear("I can pay")
    session.dtmf("1")  # anything heard since: the first half is no longer the last turn
    assert not session.can_continue()
    session = confirmed(engines, accounts)
    session.hear("I can pay")
    session.silence()
    assert not session.can_continue()


def heard_by_a_call(engines, accounts, pcm: np.ndarray, tmp_path):
    """`pcm` through a call's listening side and its dialogue, with the recorder's audio clock
    (the dialogue's measure of how soon the debtor went on): (session, text end of turn)."""
    from voicebot.services.whisper import LocalWhisperSTTService

    session = engines["en"].start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
    vad = listening.call_turn_end(RATE, "webrtc", "text", "en")
    assert isinstance(vad, TextTurnVADProcessor)
    ears = LocalWhisperSTTService(sample_rate=RATE, beam_size=listening.WHISPER_BEAM)
    recorder = StereoRecorder(GrowingWav(tmp_path / "call.wav", RATE, channels=2))
    listen(pcm, vad, ears, DialogueProcessor(session), before=(recorder.user_tap(),))
    recorder.close()
    return session, vad


def test_by_voice_a_debtor_who_goes_on_is_heard_whole(engines, accounts, capsys, tmp_path):
    """Identity, then "I can pay," | 1.5 s | "on Friday.": 1.5 s is past the longest silence a
    turn holds (1.2 s), so the first half ends the turn whatever its words sound like (at 0.7 s
    for "I can pay."), and the debtor goes on at most 0.8 s later, while the reply is pending."""
    head, tail = after_filler("I can pay,", "on Friday.")
    pause = listening.TURN_MAX_SILENCE_SECS + 0.3
    assert pause - listening.TURN_MAX_SILENCE_SECS + listening.VAD_START_SECS < CONTINUE_WINDOW_S
    pcm = np.concatenate([silence(0.6), piper_line("Yes, this is John."), silence(2.8),
                          head, silence(pause), tail, silence(1.6)])

    session, vad = heard_by_a_call(engines, accounts, pcm, tmp_path)

    heard = [(t.debtor_text, t.intent) for t in session.turns if t.kind == "speech"]
    show(capsys, f"turns heard: {heard}; verdicts {list(vad.verdicts)}")
    assert session.policy.state.identity_confirmed
    continued = [e for e in session.events if e["kind"] == "turn_continued"]
    assert len(continued) == 1, session.events
    first, last = session.turns[-2], session.turns[-1]
    assert continued[0]["turn"] == first.index and "pay" in first.debtor_text.lower()
    assert last.debtor_text.lower().startswith(first.debtor_text.lower()) and "friday" in last.debtor_text.lower()
    assert last.node == first.node  # the whole sentence answers the question the half did
    # ("on Friday" alone is sometimes heard "One Friday": a promise or a partial payment either way)
    assert last.intent in ("promise_to_pay", "partial_payment"), last.intent
    assert vad.patient  # this debtor pauses mid-sentence: their turns are given longer now


def test_by_voice_an_answer_after_the_window_is_a_new_turn(engines, accounts, capsys, tmp_path):
    """The same words with 2.8 s between them: the debtor answered the bot's question."""
    head, tail = after_filler("I can pay,", "on Friday.")
    pcm = np.concatenate([silence(0.6), piper_line("Yes, this is John."), silence(2.8),
                          head, silence(2.8), tail, silence(1.6)])

    session, vad = heard_by_a_call(engines, accounts, pcm, tmp_path)

    heard = [t.debtor_text for t in session.turns if t.kind == "speech"]
    show(capsys, f"turns heard: {heard}")
    assert not any(e["kind"] == "turn_continued" for e in session.events)
    assert "pay" in heard[-2].lower() and "pay" not in heard[-1].lower() and not vad.patient

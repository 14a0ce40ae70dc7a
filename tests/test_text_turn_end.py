"""End of the debtor's turn on the words heard at a pause (`VOICEBOT_TURN=text`).

The rules (`dialogue.nlu.turn_finished`) are checked on text; the processor on real synthesised
speech through the call's own listening side: webrtcvad, the pause announcement, Whisper's
speculative decode sent back upstream, the verdict. Frames go in lock-step with the decode (as
in test_turn_end.py), so where a turn ends, in audio seconds, does not depend on this machine's
load. Figures for many more turns, in real time and on a set written blind:
benchmarks/turn_end.py (docs/performance.md, "Turn end").
"""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from dialogue.nlu.turn_finished import TurnSounds, sounds_finished, turn_sounds
import speech
from test_turn_end import RATE, listen, piper_line, show, silence, trimmed
from voicebot.audio.vad.pause import PauseVADProcessor
from voicebot.audio.vad.text_turn import TextTurnVADProcessor
from voicebot.pipeline import listening

FINISHED, PROBABLY, UNFINISHED = TurnSounds.FINISHED, TurnSounds.PROBABLY, TurnSounds.UNFINISHED


@pytest.mark.parametrize("text, sounds", [
    ("How much is it?", FINISHED),                  # a question
    ("Yes, it's me.", FINISHED),                    # a short answer
    ("No, I don't.", FINISHED),                     # an elliptical one
    ("Okay.", FINISHED),
    ("We could do it on the 3rd.", FINISHED),       # a date closes it
    ("Maybe $75.", FINISHED),                       # so does an amount
    ("Please stop calling me.", FINISHED),
    ("My sister.", PROBABLY),                       # whole, but often goes on
    ("We sent a check.", PROBABLY),
    ("So I was thinking...", UNFINISHED),           # trails off
    ("I want to pay,", UNFINISHED),
    ("Yes this is Ann", FINISHED),                  # no full stop says nothing either way
    ("She usually handles the", UNFINISHED),        # an article
    ("Who is this from?", FINISHED),                # a question may end on a preposition
    ("The thing is.", UNFINISHED),                  # an auxiliary not after its subject
    ("I could maybe send the.", UNFINISHED),        # an article
    ("We paid it because.", UNFINISHED),            # a conjunction
    ("Um.", UNFINISHED),                            # a filler
    ("I guess.", UNFINISHED),                       # a stance verb with nothing after it
    ("If you call back later.", UNFINISHED),        # a condition with no main clause
    ("If you call back later, I'll answer.", PROBABLY),
    ("", UNFINISHED),
])
def test_english_words_so_far(text, sounds):
    assert turn_sounds(text, "en") is sounds
    assert sounds_finished(text, "en") == (sounds is not UNFINISHED)


@pytest.mark.parametrize("text, sounds", [
    ("你们是哪里？", FINISHED), ("下个月五号。", FINISHED), ("我知道了", FINISHED),
    ("我这边", PROBABLY), ("我想先，", UNFINISHED), ("因为", UNFINISHED), ("可以但是", UNFINISHED),
])
def test_chinese_words_so_far(text, sounds):
    assert turn_sounds(text, "zh") is sounds


def steady_piper_line(text: str) -> np.ndarray:
    """`piper_line` without Piper's sampling noise, so the audio is the same on every run.

    With the noise, what Whisper heard before the comma varied between runs: once in three,
    "I was going to," came out as "I was going to you." (a whole sentence), and the test then
    measured the recogniser's luck, not the end of turn.
    """
    from voicebot.services.tts import create_tts_service

    tts = create_tts_service("en-joe", sample_rate=RATE)
    tts._syn_config = dataclasses.replace(tts._syn_config, noise_scale=0.0, noise_w_scale=0.0)
    pcm = np.frombuffer(asyncio.run(tts.render(text, RATE)), dtype="<i2")
    return trimmed(speech.mulaw_decode(speech.mulaw_encode(pcm)))


def text_end() -> TextTurnVADProcessor:
    vad = listening.call_turn_end(RATE, "webrtc", "text", "en")
    assert isinstance(vad, TextTurnVADProcessor)
    return vad


def ears():
    """The call's recogniser, letting the audio through to the test's tap (a call's does not)."""
    from voicebot.services.whisper import LocalWhisperSTTService

    return LocalWhisperSTTService(sample_rate=RATE, beam_size=listening.WHISPER_BEAM)


def test_the_text_setting():
    vad = text_end()
    assert vad._analyzer.params.stop_secs == listening.TURN_MAX_SILENCE_SECS
    # A Vosk recogniser (Korean; Chinese when VOICEBOT_RECOGNIZER picks zh-vosk) does not decode
    # at pauses: its turns end on silence alone. Chinese on Whisper base ends turns on its words.
    ko = listening.call_turn_end(RATE, "webrtc", "text", "ko")
    assert type(ko) is PauseVADProcessor and ko._analyzer.params.stop_secs == listening.VAD_STOP_SECS
    assert type(listening.call_turn_end(RATE, "webrtc", "text", "zh")) is TextTurnVADProcessor
    with pytest.raises(ValueError, match="probable_secs"):
        TextTurnVADProcessor(vad_analyzer=listening.call_vad(RATE), probable_secs=5.0)


def said_alone(text: str, capsys):
    """Piper says `text`, then 1.6 s of silence, through the text end of turn: (vad, tap, stops)."""
    pcm = np.concatenate([silence(0.6), piper_line(text), silence(1.6)])
    vad = text_end()
    tap = listen(pcm, vad, ears())
    stops = tap.frames("stop")
    show(capsys, f"'{text}': heard {vad.verdicts}, ended at {stops[0].stop_secs:.2f} s of silence")
    return vad, tap, stops


def test_a_finished_sentence_ends_in_its_first_pause(capsys):
    vad, tap, stops = said_alone("How much do I owe?", capsys)

    assert len(stops) == 1 and vad.verdicts[-1][1] is FINISHED and vad.verdicts[-1][2]
    # Ended at the pause with the decode (no audio time passes in lock-step), far before 0.5 s.
    assert stops[0].stop_secs < listening.TEXT_PAUSE_SECS + 0.1
    assert [f.text for f in tap.frames("text")] == [vad.verdicts[-1][0]]  # the decode is the transcript


@pytest.mark.parametrize("first, rest", [("I was going to,", "call you next week."),
                                         ("The problem is,", "I don't have the money.")])
def test_a_pause_after_words_that_cannot_end_a_sentence_does_not_end_the_turn(first, rest, capsys):
    whole = steady_piper_line(f"{first} {rest}")  # one sentence, so its intonation runs on; cut at the comma
    quiet = np.abs(whole.astype(np.int32)) < 300
    gaps = [i for i in range(len(whole) - 640) if quiet[i:i + 640].all()]  # 80 ms of quiet
    assert gaps, "no gap at the comma"
    cut = gaps[0]
    head, tail = whole[:cut], whole[cut:]
    pcm = np.concatenate([silence(0.6), head, silence(0.9), tail, silence(1.6)])
    vad = text_end()

    tap = listen(pcm, vad, ears())

    resumed = 0.6 + len(head) / RATE + 0.9
    show(capsys, f"'{first} [0.9 s] {rest}': heard {vad.verdicts}")
    assert vad.verdicts[0][1] is UNFINISHED
    assert len(tap.at("stop")) == 1 and tap.at("stop")[0] > resumed  # one turn, after the rest


def test_a_sentence_that_often_goes_on_waits_a_little_longer(capsys):
    vad, _tap, stops = said_alone("My husband.", capsys)

    assert vad.verdicts[0][1] is PROBABLY
    assert len(stops) == 1
    assert stops[0].stop_secs == pytest.approx(listening.TURN_PROBABLE_SECS, abs=0.05)

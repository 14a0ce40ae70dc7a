"""End of the debtor's turn with Smart Turn v3 (real model, real synthesised speech, 8 kHz mu-law).

The audio goes through the call's own listening side (`listening.call_turn_end`: webrtcvad, the
pause announcement, the Smart Turn verdict on the shared inference threads) in 20 ms frames.
Frames are fed in lock-step with the model: once a pause is announced, the next frame waits
until its verdict is back, so where the turn ends (in audio seconds) does not depend on how
busy this machine is; how long the verdicts took is printed, never asserted.

Which examples: Smart Turn hears prosody, and a synthesised phrase such as Piper's "I can pay on"
ends with a sentence's fall, which the model (rightly, for what it hears) calls complete. The
"does not end at the pause" case is one it reliably calls incomplete: a pause right after a
filler ("I can pay, um, ..." in Piper's voice, P ~0.02).
Figures for many more turns: benchmarks/turn_end.py (docs/performance.md, "Turn end").
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from pipecat.frames.frames import (EndFrame, Frame, InputAudioRawFrame, TranscriptionFrame,
                                   VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame)
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

import speech
from voicebot.audio.turn.smart_turn import SmartTurnModel, shared_smart_turn
from voicebot.audio.vad.pause import PauseVADProcessor
from voicebot.audio.vad.text_turn import TextTurnVADProcessor
from voicebot.audio.vad.turn_end import SmartTurnVADProcessor
from voicebot.frames import UserPausedFrame
from voicebot.pipeline import listening
from voicebot.pipeline.offline import run_offline

RATE = 8000
STEP = RATE * 20 // 1000  # 20 ms frames, as carriers send them


@pytest.fixture(autouse=True)
def _speech_tools():
    assert speech.available(), "espeak-ng and sox are missing: run ./setup.sh"


def show(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\n    [figures] {line}", end="")


def trimmed(pcm: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(pcm) > 300)
    return pcm[loud[0]:loud[-1] + 1]


def espeak_line(text: str) -> np.ndarray:
    """espeak-ng en-us through a mu-law phone line, the synthesiser's own silence cut off."""
    return trimmed(speech.telephone(speech.synthesize(text, voice="en-us", sample_rate=RATE), RATE))


def piper_line(text: str) -> np.ndarray:
    from voicebot.pipeline.parts import render_speech

    pcm = asyncio.run(render_speech("en-joe", text, RATE))
    return trimmed(speech.mulaw_decode(speech.mulaw_encode(pcm)))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


class Tap(FrameProcessor):
    """Notes the audio position (s) of each VAD start/stop and pause, and the transcripts."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.samples = 0
        self.events: list[tuple[str, float, Frame]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, InputAudioRawFrame):
                self.samples += len(frame.audio) // 2
            for kind, cls in (("start", VADUserStartedSpeakingFrame), ("stop", VADUserStoppedSpeakingFrame),
                              ("pause", UserPausedFrame), ("text", TranscriptionFrame)):
                if isinstance(frame, cls):
                    self.events.append((kind, self.samples / RATE, frame))
        await self.push_frame(frame, direction)

    def at(self, kind: str) -> list[float]:
        return [at for k, at, _ in self.events if k == kind]

    def frames(self, kind: str) -> list:
        return [f for k, _, f in self.events if k == kind]


def listen(pcm: np.ndarray, vad: PauseVADProcessor, *after: FrameProcessor,
           before: tuple[FrameProcessor, ...] = ()) -> Tap:
    """Feed `pcm` through `vad` (`before` it, `after` it) frame by frame; after each announced pause, wait for
    the model's verdict on it (or, for "text", the verdict on the recogniser's words) before the
    next frame (lock-step, see the module doc)."""
    tap = Tap()

    async def feed(worker: PipelineWorker) -> None:
        pauses = 0
        for at in range(0, len(pcm) - STEP + 1, STEP):
            await worker.queue_frame(InputAudioRawFrame(pcm[at:at + STEP].tobytes(), RATE, 1))
            deadline = time.monotonic() + 30
            while tap.samples < at + STEP and time.monotonic() < deadline:  # the frame is through
                await asyncio.sleep(0.001)
            if isinstance(vad, (SmartTurnVADProcessor, TextTurnVADProcessor)) and len(tap.at("pause")) > pauses:
                pauses = len(tap.at("pause"))
                deadline = time.monotonic() + 30
                while len(vad.verdicts) < pauses and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.005)  # the verdict's end of turn, if any, goes out
        await asyncio.sleep(0.5)  # a transcript in flight
        await worker.queue_frame(EndFrame())

    asyncio.run(run_offline([*before, vad, *after, tap], RATE, feed))
    return tap


def smart() -> SmartTurnVADProcessor:
    vad = listening.call_turn_end(RATE, "webrtc", "smart")
    assert isinstance(vad, SmartTurnVADProcessor)
    return vad


def verdict_figures(vad: SmartTurnVADProcessor) -> str:
    return ", ".join(f"P={v.probability:.2f} in {v.processing_secs * 1000:.0f} ms"
                     f"{' (ended the turn)' if ended else ''}" for v, ended in vad.verdicts)


# -- the model ---------------------------------------------------------------------------


def test_model_is_pipecats_smart_turn_v3():
    """Same probability as pipecat's own analyzer on the same audio (same model and
    preprocessing), from the model file inside the installed pipecat package."""
    from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

    pcm = np.concatenate([silence(0.5), espeak_line("yes this is john"), silence(0.2)])
    theirs = LocalSmartTurnAnalyzerV3()
    theirs.set_sample_rate(RATE)
    expected = theirs._predict_endpoint(pcm.astype(np.float32) / 32768.0)["probability"]
    model = shared_smart_turn()
    assert model is shared_smart_turn()  # one per process
    assert model.path.name == "smart-turn-v3.2-cpu.onnx" and model.path.is_file()
    assert model.probability(pcm, RATE) == pytest.approx(expected, abs=1e-4)


def test_turn_end_setting():
    assert listening.turn_end("vad") == "vad" and listening.turn_end("SMART") == "smart"
    with pytest.raises(ValueError, match="turn end"):
        listening.turn_end("sometimes")
    vad_only = listening.call_turn_end(RATE, mode="vad")
    assert type(vad_only) is PauseVADProcessor
    assert vad_only._analyzer.params.stop_secs == listening.VAD_STOP_SECS
    assert smart()._analyzer.params.stop_secs == listening.TURN_MAX_SILENCE_SECS
    with pytest.raises(ValueError, match="threshold"):
        SmartTurnVADProcessor(vad_analyzer=listening.call_vad(RATE), model=shared_smart_turn(), threshold=1.5)


def test_turn_end_follows_the_environment(monkeypatch):
    monkeypatch.setenv(listening.TURN_ENV, "vad")
    assert type(listening.call_turn_end(RATE)) is PauseVADProcessor
    monkeypatch.setenv(listening.TURN_ENV, "smart")
    assert isinstance(listening.call_turn_end(RATE), SmartTurnVADProcessor)


# -- turns -------------------------------------------------------------------------------


@pytest.mark.parametrize("voice", ["piper", "espeak"])
def test_a_finished_sentence_ends_the_turn_in_its_first_pause(voice, capsys):
    said = (piper_line if voice == "piper" else espeak_line)("I can pay on Friday.")
    pcm = np.concatenate([silence(0.6), said, silence(1.6)])
    vad = smart()

    tap = listen(pcm, vad)

    show(capsys, f"{voice} 'I can pay on Friday.': {verdict_figures(vad)}; turn ended "
                 f"{(tap.at('stop')[0] - 0.6 - len(said) / RATE) * 1000:.0f} ms after the last voiced sample")
    assert tap.at("start") and len(tap.at("stop")) == 1
    stop = tap.frames("stop")[0]
    # Ended by the model in the first pause, well before the silence-only 0.5 s.
    assert stop.stop_secs < listening.VAD_STOP_SECS - 0.15
    assert [ended for _, ended in vad.verdicts] == [True]
    assert vad.verdicts[0][0].probability > listening.TURN_COMPLETE_THRESHOLD


def after_filler(first: str = "I can pay, um,", rest: str = "on Friday.") -> tuple[np.ndarray, np.ndarray]:
    """Piper's `first rest` as one sentence (its intonation runs on through the pause), cut at
    the gap after the filler: (head, tail)."""
    whole = piper_line(f"{first} {rest}")
    quiet = np.abs(whole.astype(np.int32)) < 300
    gaps = [i for i in range(len(whole) - 800) if quiet[i:i + 800].all()]  # 0.1 s of quiet
    assert gaps, "no gap after the filler"
    cut = max(gaps)  # the last gap in "I can pay, um, on Friday." is the one after "um,"
    return whole[:cut], trimmed(whole[cut:])


def test_a_pause_mid_sentence_does_not_end_the_turn(capsys):
    """A pause right after a filler: Smart Turn reliably hears it as unfinished (P ~0.02).
    (espeak-ng's "I can pay on |" is not reliable across machines: P 0.02 on one, 0.67 on another.)"""
    voice, first, rest = "piper", "I can pay, um,", "on Friday."
    head, tail = after_filler(first, rest)
    pcm = np.concatenate([silence(0.6), head, silence(0.6), tail, silence(1.6)])
    vad = smart()

    tap = listen(pcm, vad)

    resumed = 0.6 + (len(head) + 0.6 * RATE) / RATE
    show(capsys, f"{voice} '{first} [0.6 s] {rest}': {verdict_figures(vad)}")
    assert vad.verdicts and vad.verdicts[0][0].probability < listening.TURN_COMPLETE_THRESHOLD
    assert len(tap.at("stop")) == 1, tap.events  # one turn ...
    assert tap.at("stop")[0] > resumed           # ... ended after the rest was said


def test_the_longest_silence_still_ends_a_turn_the_model_calls_unfinished(capsys):
    said, _ = after_filler()
    pcm = np.concatenate([silence(0.6), said, silence(2.0)])
    vad = smart()

    tap = listen(pcm, vad)

    show(capsys, f"piper 'I can pay, um,' then silence: {verdict_figures(vad)}")
    assert vad.verdicts[0][0].probability < listening.TURN_COMPLETE_THRESHOLD
    assert [f.stop_secs for f in tap.frames("stop")] == [listening.TURN_MAX_SILENCE_SECS]


def test_barge_in_is_the_same_in_both_modes():
    """The VAD's start (what barges in on the bot) is where it was without Smart Turn."""
    pcm = np.concatenate([silence(0.6), espeak_line("stop calling me"), silence(1.6),
                          espeak_line("yes"), silence(1.6)])
    starts = {mode: listen(pcm, listening.call_turn_end(RATE, mode=mode)).at("start") for mode in ("vad", "smart")}
    assert len(starts["vad"]) == 2 and starts["smart"] == starts["vad"]


def test_an_early_end_keeps_the_speculative_transcript(capsys):
    """The recogniser started decoding at the pause; when the model ends the turn in that same
    pause the transcript is that decode (no second one), and says the whole line."""
    from voicebot.services.whisper import LocalWhisperSTTService

    said = piper_line("I will pay fifty dollars on Friday.")
    pcm = np.concatenate([silence(0.6), said, silence(1.6)])
    vad, stt = smart(), LocalWhisperSTTService(sample_rate=RATE, beam_size=listening.WHISPER_BEAM)

    tap = listen(pcm, vad, stt)

    texts = [f.text.lower() for f in tap.frames("text")]
    show(capsys, f"transcript {texts}, {verdict_figures(vad)}, ended after {tap.frames('stop')[0].stop_secs:.2f} s "
                 f"of silence, decode wait {[round(s.processing_secs * 1000) for s in stt.stats]} ms")
    assert tap.frames("stop")[0].stop_secs < listening.VAD_STOP_SECS
    assert len(texts) == 1 and "friday" in texts[0] and "pay" in texts[0]
    assert [s.speculative for s in stt.stats] == [True]


def test_model_cost(capsys):
    """CPU per inference (printed): the input is always 8 s, whatever the turn's length."""
    model = SmartTurnModel()
    pcm = np.concatenate([silence(0.5), espeak_line("I lost my job last month"), silence(0.2)])
    model.verdict(pcm, RATE)  # warm-up
    runs = [model.verdict(pcm, RATE) for _ in range(5)]
    show(capsys, f"Smart Turn v3.2 CPU: {np.median([r.cpu_secs for r in runs]) * 1000:.0f} ms CPU, "
                 f"{np.median([r.processing_secs for r in runs]) * 1000:.0f} ms wall per inference (median of 5)")
    assert all(0 <= r.probability <= 1 for r in runs)


def test_a_simulated_call_with_smart_turn_ends(accounts, tmp_path, monkeypatch, capsys):
    """A whole call (simulated carrier, Whisper, dialogue, Piper) with VOICEBOT_TURN=smart hears
    every line whole and reaches the scripted outcome; the turns' timings say how they ended."""
    from conftest import CALL_DATE
    from voicebot.simulate import Simulation, parse_debtor

    monkeypatch.setenv(listening.TURN_ENV, "smart")
    sim = Simulation(accounts["EN-EARLY-1"], parse_debtor("yes this is John|I can pay it on Friday|yes"),
                     today=CALL_DATE, speed=1.0, records_dir=tmp_path)
    result = asyncio.run(sim.run())
    summary = result.summary
    timed = [t["timings"] for t in summary["turns"] if (t.get("timings") or {}).get("vad_stop_secs")]
    show(capsys, "smart call: silence at each turn's end "
                 f"{[round(t['vad_stop_secs'], 2) for t in timed]} s, turn latency "
                 f"{[round(v) for v in result.line_latencies_ms]} ms")
    heard = [t["nlu"]["intent"] for t in summary["turns"] if t["nlu"]]
    assert heard[:2] == ["confirm_identity", "promise_to_pay"], [t["debtor_text"] for t in summary["turns"]]
    assert summary["outcome"] == "promise_to_pay"
    assert timed and all(t["vad_stop_secs"] <= listening.TURN_MAX_SILENCE_SECS for t in timed)

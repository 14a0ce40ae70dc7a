"""Hear a caller's utterance as a call does: the production VAD, end-of-turn detection and
recogniser, as pipecat processors in a pipeline, fed the line's 20 ms audio frames as fast as
they are taken.

Why a pipeline rather than calling the decoder: what a caller "gets" depends on more than the
model. The webrtcvad analyzer with the call's timing decides where a turn starts and ends (a
slow speaker's mid-sentence pause can split a turn in two), `PauseVADProcessor` announces the
pause on which Whisper decodes speculatively (its audio ends 0.2 s into the silence), the end
of turn (VAD silence, or Smart Turn's verdict at a pause: `VOICEBOT_TURN`) decides which audio
makes a segment, and `LocalWhisperSTTService` keeps a second of pre-roll and adds its own
trailing silence. The pipeline is `call_turn_end -> call_recogniser` exactly as
`voicebot.pipeline.listening` builds them for a call (short window, decode caps, greedy beam,
the locale's hint words as the prompt), between two taps that collect the transcripts.

The only difference from a live call is pacing: frames are queued at once instead of every
20 ms. The VAD, the turn end and the recogniser count audio in samples, not wall time (the
speculation is kept or dropped by the audio buffer, Smart Turn is given the turn's samples), so
only wall time changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
from pipecat.frames.frames import (EndFrame, ErrorFrame, Frame, InputAudioRawFrame,
                                   TranscriptionFrame, VADUserStoppedSpeakingFrame)
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot.evaluation.phone_line import LINE_RATE, pad
from voicebot.pipeline.listening import call_recogniser, call_turn_end, turn_end
from voicebot.pipeline.offline import run_offline

FRAME_MS = 20      # carrier packetisation (G.711 RTP, Twilio media frames)
LEAD_SECS = 0.6    # line silence before the caller speaks
TAIL_SECS = 0.6    # and after
# Then the caller waits for the bot, silent: long enough for the longest silence a turn may
# hold (Smart Turn's fallback, 1.2 s) to end a turn nobody called complete.
HOLD_SECS = 1.0


@dataclass
class Heard:
    """What the listening side made of one utterance.

    Attributes:
        text: The turn's transcripts joined with spaces ("" when nothing was recognised).
        segments: Each transcript, one per VAD turn that produced text.
        turns: How many turns the VAD ended (more than one: the utterance was split).
        errors: Errors the processors reported (a failed decode still yields a result).
    """

    text: str
    segments: list[str]
    turns: int
    errors: list[str] = field(default_factory=list)


class _Tap(FrameProcessor):
    """Passes every frame on, noting transcripts, VAD turn ends and errors."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.transcripts: list[str] = []
        self.turns = 0
        self.errors: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            self.transcripts.append(frame.text)
        elif isinstance(frame, VADUserStoppedSpeakingFrame) and direction == FrameDirection.DOWNSTREAM:
            self.turns += 1
        elif isinstance(frame, ErrorFrame):
            self.errors.append(str(frame.error))
        await self.push_frame(frame, direction)


class Listener:
    """The listening side of a call for one locale; `hear` runs one utterance through it.

    Building it loads the recogniser's model (shared per process) and fails, with the message
    of `audio_models` naming what to install or set, when the locale has none installed.
    `hints` are the words a call favours: a call adds the account's name and lender to the
    strategy's `asr_hints`; an evaluation has no account, so it passes the `asr_hints` alone.
    """

    def __init__(self, locale: str, hints: list[str], sample_rate: int = LINE_RATE,
                 vad_kind: str = "webrtc"):
        self.locale = locale
        self.hints = list(hints)
        self.sample_rate = sample_rate
        self.vad_kind = vad_kind
        self.turn_end = turn_end()  # VOICEBOT_TURN, read once: the whole run ends turns one way
        probe_turn = call_turn_end(sample_rate, vad_kind, self.turn_end, locale)  # loads its model now
        probe = call_recogniser(locale, sample_rate, self.hints)  # loads the model now
        # Constants (VAD timing, pause, Smart Turn threshold) live in the code, which the cache
        # key fingerprints (`transcript_cache.AUDIO_PATH_MODULES`); here what is chosen at run time.
        self._settings = {
            "locale": locale,
            "sample_rate": sample_rate,
            "frame_ms": FRAME_MS,
            "padding": [LEAD_SECS, TAIL_SECS, HOLD_SECS],
            "turn": {"end": self.turn_end, "vad": vad_kind, "processor": type(probe_turn).__qualname__},
            "recogniser": _transcription_settings(probe),
            "versions": {d: _version(d) for d in ("pipecat-ai", "faster-whisper", "ctranslate2",
                                                  "onnxruntime", "webrtcvad", "webrtcvad-wheels",
                                                  "soxr", "vosk", "opencc")},
        }

    def settings(self) -> dict[str, Any]:
        """Everything besides the audio that decides what is heard (for the cache key)."""
        return self._settings

    async def hear(self, pcm: np.ndarray) -> Heard:
        """Transcribe int16 mono `pcm` at the line rate, padded with line silence first."""
        rate = self.sample_rate
        audio = pad(pcm, rate, LEAD_SECS, TAIL_SECS + HOLD_SECS)
        step = rate * FRAME_MS // 1000
        frames = [InputAudioRawFrame(audio=audio[i:i + step].tobytes(), sample_rate=rate, num_channels=1)
                  for i in range(0, len(audio) - step + 1, step)]
        head, tail = _Tap(), _Tap()
        processors = [
            head,
            call_turn_end(rate, self.vad_kind, self.turn_end, self.locale),
            call_recogniser(self.locale, rate, self.hints),
            tail,
        ]

        async def feed(worker: PipelineWorker) -> None:
            await worker.queue_frames([*frames, EndFrame()])  # EndFrame: queued turns still decode

        await run_offline(processors, rate, feed)
        segments = [t.strip() for t in tail.transcripts if t.strip()]
        return Heard(" ".join(segments), segments, tail.turns, head.errors + tail.errors)


def _transcription_settings(recogniser: FrameProcessor) -> dict[str, Any]:
    describe = getattr(recogniser, "transcription_settings", None)
    if describe is None:  # a recogniser that cannot describe itself is keyed by its class
        return {"class": type(recogniser).__qualname__}
    return describe()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"

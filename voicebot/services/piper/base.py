"""A pipecat TTS service for a catalogue voice id, with a cache for static prompts.

Engine services (Piper in-process, espeak-ng subprocess) only turn a piece of text into PCM at
their native rate; everything a call needs around that lives here once:

- the voice comes from `audio_models` by id, so scripts choose voices without knowing engines;
- text is cut so the first piece is short (`text_chunks`), keeping time to first audio low;
- each piece is resampled in one go with pipecat's file resampler (`create_file_resampler`).
  A piece is a whole sentence with silence at both ends, so nothing is lost at its edges, unlike
  the base class's stream resampler, which keeps filter state between chunks, is tied to one
  input rate and drops that state after 0.2 s idle. Whole-piece resampling also makes a render
  deterministic for a given synthesis, which the prompt cache relies on;
- text a script marks static is rendered once per process per (voice, text, rate) and replayed
  from `audio_models.prompt_cache`, and so is any piece of another prompt that lies inside fixed
  script text (`static_text`: "This call is recorded." in a greeting that names the debtor),
  and any run of words inside fixed script text in a sentence with an account's values, the
  values being synthesised alone and spliced in (`splice`). A value that is about the debtor
  alone (a name, an exact amount: `dialogue.variables.PERSONAL`) is synthesised for its call
  and kept for that call only; once the call's service knows which values those are
  (`share_values_except`), the others (the lender, a date, "online banking"), which many
  accounts of a portfolio share, are cached like script text.
"""

from __future__ import annotations

import os
import time
from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from loguru import logger
from pipecat.audio.utils import create_file_resampler
from pipecat.frames.frames import ErrorFrame, Frame, TTSSpeakFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.utils.tracing.service_decorators import traced_tts

from audio_models.catalogue import Catalogue, EspeakVoiceSpec, PiperVoiceSpec, load_catalogue
from audio_models.prompt_cache import PromptCache, PromptKey, default_prompt_cache, normal_text
from voicebot.services import deadline_executor, stats_log
from voicebot.pipeline.frames import PrefetchSpeechFrame
from voicebot.services.piper import splice
from voicebot.services.piper.call_values import CallValues
from voicebot.services.piper.static_text import StaticText
from voicebot.services.piper.text_chunks import FIRST_CHUNK, MAX_CHUNK, split_for_tts

DEADLINE_MARGIN_S = 1.0  # a later piece is synthesised this long before its audio is due
PREFETCH_DUE_S = 0.5  # a likely next value is wanted after audio due now, before later pieces
STATIC_PROMPT = "static_prompt"  # TTSSpeakFrame.metadata flag: cache this text's audio


def static_speak_frame(text: str, **kwargs: Any) -> TTSSpeakFrame:
    """A TTSSpeakFrame whose text is fixed script text, so its audio may be cached and replayed."""
    frame = TTSSpeakFrame(text, **kwargs)
    frame.metadata[STATIC_PROMPT] = True
    return frame


@dataclass
class CatalogueTTSSettings(TTSSettings):
    """Settings for catalogue TTS services (voice = catalogue voice id)."""


class CatalogueTTSService(TTSService):
    """Base for TTS services that speak with a voice from the `audio_models` catalogue."""

    ENGINE: ClassVar[str]
    Settings = CatalogueTTSSettings
    _settings: Settings

    def __init__(
        self,
        *,
        voice_id: str,
        sample_rate: int | None = None,
        static_prompts: Iterable[str] = (),
        prompt_cache: PromptCache | None = None,
        first_chunk_chars: int = FIRST_CHUNK,
        max_chunk_chars: int = MAX_CHUNK,
        catalogue: Catalogue | None = None,
        splice_values: bool | None = None,
        **kwargs: Any,
    ):
        """Look the voice up and set the service up for it.

        Args:
            voice_id: catalogue voice id, e.g. "en-kate" (UnknownModelError lists the known ones).
            sample_rate: output rate; None takes the pipeline's `audio_out_sample_rate`.
            static_prompts: texts whose audio may be cached (also `mark_static`, `prerender`,
                or a TTSSpeakFrame from `static_speak_frame`).
            prompt_cache: where static renders live; the process-wide cache by default.
            first_chunk_chars: target length of the first synthesised piece (time to first audio).
            max_chunk_chars: later sentences longer than this are cut at clauses.
            catalogue: the catalogue to use; `audio_models/voices.yaml` by default.
            splice_values: in a sentence with an account's values, replay its fixed runs from
                the cache and synthesise only the values (`splice`); None reads
                VOICEBOT_TTS_SPLICE (on unless "0").
            **kwargs: passed to pipecat's TTSService.
        """
        self._catalogue = catalogue if catalogue is not None else load_catalogue()
        self._spec = self._catalogue.voice(voice_id)
        if self._spec.engine != self.ENGINE:
            raise ValueError(
                f"voice {voice_id!r} is an {self._spec.engine} voice; use create_tts_service()"
            )
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            sample_rate=sample_rate,
            settings=self.Settings(model=self.ENGINE, voice=voice_id, language=self._spec.locale),
            **kwargs,
        )
        # `is not None`: an empty PromptCache is falsy (len 0).
        self._cache = prompt_cache if prompt_cache is not None else default_prompt_cache()
        self._static = {normal_text(t) for t in static_prompts}
        self._static_text = StaticText()  # script fragments: pieces inside them are cached too
        self._chunking = (first_chunk_chars, max_chunk_chars)
        if splice_values is None:
            splice_values = os.environ.get("VOICEBOT_TTS_SPLICE", "1") != "0"
        self._splice = splice_values
        # An account's values this call has spoken ("$125" comes up in three prompts): kept for
        # this service's life, i.e. one call, never in the shared cache.
        self._call_values = CallValues()
        # The call's personal values (`share_values_except`); None: treat every value as one.
        self._personal: Callable[[], Iterable[str]] | None = None
        self._utterance = (0.0, 0.0)  # (when the utterance began, seconds of audio handed out)
        self._file_resampler = create_file_resampler()

    @property
    def voice_spec(self) -> PiperVoiceSpec | EspeakVoiceSpec:
        return self._spec

    @property
    def prompt_cache(self) -> PromptCache:
        return self._cache

    def can_generate_metrics(self) -> bool:
        return True

    @abstractmethod
    def _synthesize_piece(self, text: str, deadline: float) -> AsyncIterator[tuple[bytes, int]]:
        """Yield (16-bit mono PCM, its sample rate) for one piece of text, one item per sentence;
        `deadline` (`deadline_executor`) is when it is needed, for engines sharing the cores."""

    def mark_static_fragments(self, static_text: StaticText) -> None:
        """Fixed script text (`static_text.static_text_for(scripts)`): any piece of a prompt
        that lies inside it is cached and replayed, even when the prompt as a whole is not."""
        self._static_text = static_text

    def share_values_except(self, personal: Callable[[], Iterable[str]]) -> None:
        """Cache and share the audio of this call's values except the personal ones, which
        `personal()` returns as spoken (asked at each piece: a call captures new ones)."""
        self._personal = personal

    def _shareable(self, text: str) -> bool:
        """Text that is not fixed script text may be cached and shared when no word of it
        belongs to one of the call's personal values (and those are known)."""
        if self._personal is None:
            return False
        private = {word for value in self._personal() for word in _words(value)}
        return not private & set(_words(text))

    def mark_static(self, texts: Iterable[str]) -> None:
        """Declare fixed script texts: their audio is cached on first render and replayed after."""
        self._static.update(normal_text(t) for t in texts)

    async def prerender(self, texts: Iterable[str], sample_rate: int | None = None) -> int:
        """Render static texts into the cache now (e.g. at start-up); returns how many were new."""
        rate = self._output_rate(sample_rate)
        texts = list(texts)
        self.mark_static(texts)
        rendered = 0
        for text in texts:
            key = PromptKey.of(self._spec.id, text, rate)
            if key not in self._cache:
                self._cache.put(key, [pcm async for pcm in self._render(key.text, rate, pieces=False)])
                rendered += 1
        return rendered

    async def render(self, text: str, sample_rate: int | None = None) -> bytes:
        """The whole utterance as PCM at the output rate, outside a pipeline (cache as run_tts)."""
        return b"".join([pcm async for pcm in self._pcm_for(text, self._output_rate(sample_rate))])

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Note a speak frame flagged static (`static_speak_frame`), then process it as usual."""
        if isinstance(frame, PrefetchSpeechFrame):
            await super().process_frame(frame, direction)
            self.prefetch_values(frame.texts)
            return  # consumed
        if isinstance(frame, TTSSpeakFrame) and frame.metadata.get(STATIC_PROMPT):
            self.mark_static([frame.text])
        await super().process_frame(frame, direction)

    def prefetch_values(self, texts: Iterable[str]) -> None:
        """Render now, below anything due, the personal values in the first piece of replies
        the dialogue may say next: the piece whose synthesis a debtor would wait for."""
        rate = self._init_sample_rate or self.sample_rate
        if not (self._splice and rate):
            return
        deadline = deadline_executor.now() + PREFETCH_DUE_S
        for text in texts:
            first = next(iter(split_for_tts(text, *self._chunking)), "")
            runs = self._static_text.spans(first)
            if self._static_text.covers(first) or self._shareable(first):
                continue  # cached for everyone
            if not any(fixed for _, fixed in runs):
                runs = [(first, False)]  # synthesised whole (`_own_piece`)
            for run, fixed in runs:
                if not fixed and not self._shareable(run):
                    self._call_values.prefetch((run, rate), lambda run=run: self._pcm_of(run, rate, deadline))

    async def _pcm_of(self, text: str, rate: int, deadline: float) -> bytes:
        return b"".join([seg async for seg in self._synthesize(text, rate, deadline=deadline)])

    async def cleanup(self):
        await self._call_values.close()
        await super().cleanup()

    async def _update_settings(self, delta: Settings) -> dict[str, Any]:
        """Settings are stored but not applied: the voice is fixed for the service's life."""
        changed = await super()._update_settings(delta)
        if changed:  # a call keeps its voice; a redial with another voice gets a new service
            self._warn_unhandled_updated_settings(changed)
        return changed

    @traced_tts
    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Stream the text's audio piece by piece, from the prompt cache when it is static."""
        try:
            async for frame in self._stream_audio_frames_from_iterator(
                self._pcm_for(text, self.sample_rate),
                in_sample_rate=self.sample_rate,  # already at the output rate
                context_id=context_id,
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as e:
            logger.exception(f"{self} synthesis failed")
            yield ErrorFrame(error=f"{self} synthesis failed: {e}")
        finally:
            await self.stop_ttfb_metrics()

    async def _pcm_for(self, text: str, rate: int) -> AsyncIterator[bytes]:
        """PCM segments for text, keeping count of the audio handed out so far, which is when
        the next piece's synthesis is due (`_deadline`)."""
        self._utterance = (deadline_executor.now(), 0.0)
        async for segment in self._pcm_uncounted(text, rate):
            self._utterance = (self._utterance[0], self._utterance[1] + len(segment) / 2 / rate)
            yield segment

    def _deadline(self) -> float:
        """When the piece being synthesised must be ready: once the audio before it has played
        (the transport sends it a little ahead of playback, so this is about when the caller
        needs it), less a margin for the synthesis itself; a reply's first piece is due at once."""
        started, queued_s = self._utterance
        return started + max(0.0, queued_s - DEADLINE_MARGIN_S)

    async def _pcm_uncounted(self, text: str, rate: int) -> AsyncIterator[bytes]:
        """PCM segments for text: replayed if cached, else rendered (and stored if static)."""
        key = PromptKey.of(self._spec.id, text, rate)
        static = key.text in self._static
        if static:
            if (cached := self._cache.get(key)) is not None:
                self._note_cached(cached, rate)
                for segment in cached:
                    yield segment
                return
        await self.start_tts_usage_metrics(text)
        segments: list[bytes] = []
        async for pcm in self._render(key.text, rate, pieces=not static):
            segments.append(pcm)
            yield pcm
        if static:  # only a complete render; an interrupted one is dropped
            self._cache.put(key, segments)

    async def _render(self, text: str, rate: int, *, pieces: bool = True) -> AsyncIterator[bytes]:
        """Piece by piece; with `pieces`, a piece inside fixed script text comes from the cache,
        and a piece holding an account's values has its fixed runs from the cache and only
        the values synthesised (`splice`), unless splicing is off."""
        for piece in split_for_tts(text, *self._chunking):
            runs = self._static_text.spans(piece) if pieces and self._splice else []
            if pieces and self._static_text.covers(piece):
                source = self._cached_render(piece, rate)
            elif any(is_fixed for _, is_fixed in runs):
                source = self._spliced(runs, rate)
            elif pieces and self._shareable(piece):  # e.g. "Friday, December 4."
                source = self._cached_render(piece, rate, script=False)
            elif pieces:  # e.g. "Thanks, Maria.": the call's own
                source = self._own_piece(piece, rate)
            else:
                source = self._synthesize(piece, rate, fixed=True)  # static prompt
            async for out in source:
                yield out

    async def _cached_render(self, text: str, rate: int, script: bool = True) -> AsyncIterator[bytes]:
        """Fixed script text (or, not `script`, shareable values): replayed from the cache, or
        rendered and stored the first time (a render cut short by a barge-in is not stored)."""
        key = PromptKey.of(self._spec.id, text, rate)
        if (cached := self._cache.get(key)) is not None:
            self._note_cached(cached, rate)
            for segment in cached:
                yield segment
            return
        segments: list[bytes] = []
        async for out in self._synthesize(text, rate, fixed=script):
            segments.append(out)
            yield out
        self._cache.put(key, segments)

    async def _own_piece(self, text: str, rate: int) -> AsyncIterator[bytes]:
        """Text holding a personal value: prefetched or said before in this call, else
        synthesised (streamed) and kept for the call."""
        pcm, prefetched = self._call_values.take((text, rate))
        if pcm is not None:
            if not prefetched:
                self._note_cached([pcm], rate)
            yield pcm
            return
        segments: list[bytes] = []
        async for out in self._synthesize(text, rate):
            segments.append(out)
            yield out
        self._call_values.put((text, rate), b"".join(segments))

    async def _spliced(self, runs: list[tuple[str, bool]], rate: int) -> AsyncIterator[bytes]:
        """One sentence from its runs: fixed ones and shareable values cached, personal values
        synthesised (and kept for the call), joined with the pause the text asks for instead
        of each run's own silence."""
        for k, (run, fixed) in enumerate(runs):
            if fixed or self._shareable(run):
                pcm = b"".join([seg async for seg in self._cached_render(run, rate, script=fixed)])
            else:
                pcm, prefetched = self._call_values.take((run, rate))
                if pcm is None:
                    pcm = b"".join([seg async for seg in self._synthesize(run, rate)])
                    self._call_values.put((run, rate), pcm)
                elif not prefetched:  # said before in this call
                    self._note_cached([pcm], rate)
            pcm = splice.trim(pcm, rate, start=k > 0, end=k < len(runs) - 1)
            if k < len(runs) - 1:
                pcm += splice.pause(splice.join_pause_ms(run), rate)
            yield pcm

    async def _synthesize(self, piece: str, rate: int, fixed: bool = False,
                          deadline: float | None = None) -> AsyncIterator[bytes]:
        started = time.perf_counter()
        deadline = self._deadline() if deadline is None else deadline
        async for pcm, source_rate in self._synthesize_piece(piece, deadline):
            out = await self._file_resampler.resample(pcm, source_rate, rate)
            if stats_log.enabled():  # synthesis time per piece, for benchmarks' TTS RTF
                stats_log.record("tts", voice=self._spec.id, audio_s=len(out) / 2 / rate,
                                 synth_s=time.perf_counter() - started, fixed=fixed)
            yield out
            started = time.perf_counter()

    def _note_cached(self, segments: Iterable[bytes], rate: int) -> None:
        if stats_log.enabled():  # how much speech the cache saved synthesising
            stats_log.record("tts_cached", voice=self._spec.id,
                             audio_s=sum(len(s) for s in segments) / 2 / rate)

    def _output_rate(self, sample_rate: int | None) -> int:
        rate = sample_rate or self._init_sample_rate or self.sample_rate
        if not rate:
            raise ValueError(
                "no output sample rate yet: pass sample_rate (8000 telephony, 16000 otherwise)"
            )
        return rate


def _words(text: str) -> list[str]:
    """Words compared for personal values: lower case, without the punctuation around them
    ("$1,250," is "$1,250")."""
    return [w for w in (w.strip(".,;:!?\"'()").lower() for w in text.split()) if w]

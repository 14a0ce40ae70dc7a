"""A pipecat TTS service for a catalogue voice id, with a cache for static prompts.

Engine services (Piper in-process, espeak-ng subprocess) only turn a piece of text into PCM at
their native rate (`_synthesize_piece`); everything a call needs around that lives in this
package once:

- the voice comes from `audio_models` by id, so scripts choose voices without knowing engines;
- text is cut so the first piece is short (`text_chunks`), keeping time to first audio low;
- each piece is resampled whole (`synthesis`), and due when the audio before it has played
  (`utterance_clock`);
- text a script marks static is rendered once per process per (voice, text, rate) and replayed
  from `audio_models.prompt_cache`, and so are the pieces of other prompts that are fixed
  script text, with an account's values spliced in (`pieces`); a value about the debtor alone
  is kept for the call only (`personal_values`, `call_values`), and the likely next replies'
  values are rendered while the debtor talks (`prefetch_values`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame, TTSSpeakFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.utils.tracing.service_decorators import traced_tts

from audio_models.catalogue import Catalogue, EspeakVoiceSpec, PiperVoiceSpec, load_catalogue
from audio_models.prompt_cache import PromptCache, PromptKey, default_prompt_cache, normal_text
from voicebot import pipecat_internals
from voicebot.frames import STATIC_PROMPT, PrefetchSpeechFrame
from voicebot.services import deadline_executor
from voicebot.services.catalogue_tts.call_values import CallValues
from voicebot.services.catalogue_tts.personal_values import PersonalValues
from voicebot.services.catalogue_tts.pieces import PieceSources
from voicebot.services.catalogue_tts.static_text import StaticText
from voicebot.services.catalogue_tts.synthesis import Synthesis
from voicebot.services.catalogue_tts.text_chunks import FIRST_CHUNK, MAX_CHUNK
from voicebot.services.catalogue_tts.utterance_clock import UtteranceClock

PREFETCH_DUE_S = 0.5  # a likely next value is wanted after audio due now, before later pieces


@dataclass
class CatalogueTTSSettings(TTSSettings):
    """Settings for catalogue TTS services (voice = catalogue voice id)."""


class CatalogueTTSService(TTSService):
    """Base for TTS services that speak with a voice from the `audio_models` catalogue."""

    ENGINE: ClassVar[str]
    Settings = CatalogueTTSSettings

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
        splice_values: bool = True,
        **kwargs: Any,
    ):
        """Look the voice up and set the service up for it.

        Args:
            voice_id: catalogue voice id, e.g. "en-kate" (UnknownModelError lists the known ones).
            sample_rate: output rate; None takes the pipeline's `audio_out_sample_rate`.
            static_prompts: texts whose audio may be cached (also `mark_static`, `prerender`,
                or a TTSSpeakFrame from `voicebot.frames.static_speak_frame`).
            prompt_cache: where static renders live; the process-wide cache by default.
            first_chunk_chars: target length of the first synthesised piece (time to first audio).
            max_chunk_chars: later sentences longer than this are cut at clauses.
            catalogue: the catalogue to use; `audio_models/voices.yaml` by default.
            splice_values: in a sentence with an account's values, replay its fixed runs from
                the cache and synthesise only the values (`splice`); False synthesises such
                sentences whole (VOICEBOT_TTS_SPLICE=0).
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
        self._fixed_rate = sample_rate
        # `is not None`: an empty PromptCache is falsy (len 0).
        self._cache = prompt_cache if prompt_cache is not None else default_prompt_cache()
        self._static = {normal_text(t) for t in static_prompts}
        self._clock = UtteranceClock()
        # An account's values this call has spoken ("$125" comes up in three prompts): kept for
        # this service's life, i.e. one call, never in the shared cache.
        self._call_values = CallValues()
        self._synthesis = Synthesis(voice_id, lambda text, deadline: self._synthesize_piece(text, deadline),
                                    self._clock)
        self._pieces = PieceSources(voice_id=voice_id, cache=self._cache, synthesis=self._synthesis,
                                    call_values=self._call_values, personal=PersonalValues(),
                                    chunking=(first_chunk_chars, max_chunk_chars),
                                    splice_values=splice_values)

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
        self._pieces.static_text = static_text

    def share_values_except(self, personal: Callable[[], Iterable[str]]) -> None:
        """Cache and share the audio of this call's values except the personal ones, which
        `personal()` returns as spoken (asked at each piece: a call captures new ones)."""
        self._pieces.personal.share_except(personal)

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
                self._cache.put(key, [pcm async for pcm in self._pieces.render(key.text, rate, pieces=False)])
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
        rate = self._fixed_rate or self.sample_rate
        if not (self._pieces.splice and rate):
            return
        self._pieces.prefetch(texts, rate, deadline_executor.now() + PREFETCH_DUE_S)

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
            async for frame in pipecat_internals.stream_audio_frames(
                self,
                self._pcm_for(text, self.sample_rate),
                sample_rate=self.sample_rate,  # already at the output rate
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
        the next piece's synthesis is due (`utterance_clock`)."""
        self._clock.start()
        async for segment in self._utterance(text, rate):
            self._clock.handed_out(segment, rate)
            yield segment

    async def _utterance(self, text: str, rate: int) -> AsyncIterator[bytes]:
        """PCM segments for text: replayed if cached, else rendered (and stored if static)."""
        key = PromptKey.of(self._spec.id, text, rate)
        static = key.text in self._static
        if static:
            if (cached := self._cache.get(key)) is not None:
                self._synthesis.note_cached(cached, rate)
                for segment in cached:
                    yield segment
                return
        await self.start_tts_usage_metrics(text)
        segments: list[bytes] = []
        async for pcm in self._pieces.render(key.text, rate, pieces=not static):
            segments.append(pcm)
            yield pcm
        if static:  # only a complete render; an interrupted one is dropped
            self._cache.put(key, segments)

    def _output_rate(self, sample_rate: int | None) -> int:
        rate = sample_rate or self._fixed_rate or self.sample_rate
        if not rate:
            raise ValueError(
                "no output sample rate yet: pass sample_rate (8000 telephony, 16000 otherwise)"
            )
        return rate

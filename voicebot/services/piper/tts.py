"""Piper voices from the catalogue, run in-process with their own synthesis settings.

pipecat's PiperTTSService loads its own model per service and passes Piper no SynthesisConfig, so
every call would load a model and every voice would sound like the model's defaults. This service
shares one loaded PiperVoice per model across all calls (`audio_models.loader`) and applies the
catalogue's length_scale, noise_scale and noise_w_scale.

A derived voice (en-kate from en-joe) also has a `rate_factor` r: its samples are declared to be
at model rate x r, so the resampler to the call's rate raises pitch and formants by r and shortens
the audio by r. Synthesising with a length_scale of about r makes the duration come out normal,
which gives a second, clearly different voice from the one English Piper model that installs
offline, at no extra cost beyond the longer length_scale.

Synthesis runs on the process's inference threads (`deadline_executor`), one sentence at a time. When a call is
interrupted the sentence being synthesised still finishes in its thread and is dropped; keeping
pieces short (see `text_chunks`) bounds that waste as well as the time to first audio.

Piper runs in-process via `piper-tts`, which is GPL-3.0 (see pipecat's note on PiperTTSService).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from piper import PiperVoice, SynthesisConfig

from audio_models import loader
from audio_models.catalogue import PiperVoiceSpec
from voicebot.services.deadline_executor import inference_executor
from voicebot.services.catalogue_tts.service import CatalogueTTSService


class CataloguePiperTTSService(CatalogueTTSService):
    """pipecat TTS for a catalogue Piper voice id (e.g. "en-joe", "en-kate").

    Example::

        tts = CataloguePiperTTSService(voice_id="en-kate", sample_rate=8000)
    """

    ENGINE = "piper"

    def __init__(self, *, voice_id: str, **kwargs: Any):
        """Load (or reuse) the voice's model and build its synthesis settings.

        Args:
            voice_id: a Piper voice id from the catalogue.
            **kwargs: see CatalogueTTSService (sample_rate, static_prompts, prompt_cache, ...).
        """
        super().__init__(voice_id=voice_id, **kwargs)
        spec = self.voice_spec
        assert isinstance(spec, PiperVoiceSpec)
        self._voice = loader.piper_voice(voice_id, self._catalogue)
        settings = spec.piper
        self._syn_config = SynthesisConfig(
            speaker_id=settings.speaker_id,
            length_scale=settings.length_scale,
            noise_scale=settings.noise_scale,
            noise_w_scale=settings.noise_w_scale,
        )
        # The rate the samples are declared to have: the derived-voice trick (see module doc).
        self._source_rate = round(self._voice.config.sample_rate * settings.rate_factor)

    @property
    def piper_voice(self) -> PiperVoice:
        """The loaded model, shared with every other service using it."""
        return self._voice

    @property
    def source_sample_rate(self) -> int:
        """Rate the synthesised samples are resampled from (model rate x rate_factor)."""
        return self._source_rate

    async def _synthesize_piece(self, text: str, deadline: float) -> AsyncIterator[tuple[bytes, int]]:
        """One PCM chunk per sentence, each synthesised on the shared inference threads, most
        urgent first (`deadline_executor`)."""
        sentences = iter(self._voice.synthesize(text, self._syn_config))
        executor = inference_executor("tts")
        while (chunk := await executor.run(deadline, next, sentences, None)) is not None:
            yield chunk.audio_int16_bytes, self._source_rate

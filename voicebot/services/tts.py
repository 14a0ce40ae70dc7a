"""The TTS service for a catalogue voice id, whatever its engine: Piper in-process
(`piper/tts.py`) or espeak-ng (`espeak/tts.py`), both built on the engine-neutral base
(`catalogue_tts/service.py`).  Chosen here, above the engines, so the base never imports them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from audio_models.catalogue import load_catalogue
from voicebot.services.catalogue_tts.service import CatalogueTTSService


def create_tts_service(
    voice_id: str, *, sample_rate: int | None = None, **kwargs: Any
) -> CatalogueTTSService:
    """The TTS service for a catalogue voice id, whatever its engine (Piper or espeak-ng)."""
    catalogue = kwargs.get("catalogue")
    catalogue = catalogue if catalogue is not None else load_catalogue()
    if catalogue.voice(voice_id).engine == "piper":
        from voicebot.services.piper.tts import CataloguePiperTTSService as service
    else:
        from voicebot.services.espeak.tts import EspeakTTSService as service
    return service(voice_id=voice_id, sample_rate=sample_rate, **kwargs)


async def prerender_prompts(
    voice_id: str, texts: Iterable[str], sample_rate: int, **kwargs: Any
) -> int:
    """Warm the process-wide prompt cache for a voice and rate (at start-up, before any call)."""
    service = create_tts_service(voice_id, sample_rate=sample_rate, **kwargs)
    return await service.prerender(texts, sample_rate)

"""Models loaded before the first call, not during it.

Loading Whisper (0.6 s), a Piper voice (0.5 s) or a locale's scripts and NLU on the event loop
would freeze every call in progress for that long, and the first inference of each model is
slower than the rest.  The server therefore loads and exercises the models of every locale in
its accounts file in a worker thread at start-up, and a call in a locale nobody warmed loads
its models in a thread too (`load_models` is a no-op once they are cached).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from loguru import logger

from audio_models import loader
from audio_models.catalogue import load_catalogue
from dialogue.engine import engine_for
from voicebot.pipeline.listening import load_recogniser


def load_models(locale: str, voices: Iterable[str]) -> None:
    """Load (once per process) the scripts, recogniser and voices of a locale. Blocking."""
    engine_for(locale)
    catalogue = load_catalogue()
    load_recogniser(locale)  # the locale's own model and settings, as its calls build them
    for voice in voices:
        if catalogue.voice(voice).engine == "piper":
            loader.piper_voice(voice, catalogue)


def _exercise(locale: str, voices: list[str], sample_rate: int) -> None:
    """One tiny inference per voice (the recogniser's is done by `load_recogniser`): the first
    one pays for allocations and graph set-up."""
    from voicebot.pipeline.parts import render_speech

    for voice in voices:
        asyncio.run(render_speech(voice, "Hello.", sample_rate))


def warm_up(locales: Iterable[str], sample_rate: int) -> list[str]:
    """Load and exercise every model the locales' calls can use; returns the loaded model keys."""
    catalogue = load_catalogue()
    for locale in sorted(set(locales)):
        started = time.monotonic()
        voices = [v.id for v in catalogue.voices_for(locale)]
        try:
            load_models(locale, voices)
            _exercise(locale, voices, sample_rate)
        except Exception as exc:  # a locale without models must not stop the others' calls
            logger.warning(f"calls in locale {locale!r} will fail until its models are installed: {exc}")
            continue
        logger.info(f"warmed locale {locale!r} ({', '.join(voices)}) in {time.monotonic() - started:.1f} s")
    return loader.loaded()

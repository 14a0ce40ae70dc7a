"""The callers of a spoken NLU evaluation: catalogue voices and variants of them, rendered with
the production TTS services.

Why these voices: the classifier is trained on written text, but a caller's words reach it
through a recogniser, and how well tiny.en hears depends on the voice and the pace. Piper joe is
the closest thing to a human voice that installs offline; a faster joe stands in for hurried
callers, en-kate (joe pitch-shifted, `audio_models/voices.yaml`) and a slower kate for a higher,
more deliberate voice, and espeak-ng's formant voices for speech the recogniser finds hard
(see `/work/shared/STACK.md`: WER 0.26 against 0.11 for Piper). Chinese has only the espeak-ng
`cmn-latn-pinyin` voices of the catalogue, read from it so a new zh voice is picked up.

Variants are catalogue entries too (`Catalogue.with_voices`), so every voice is rendered by the
same `create_tts_service` a call uses (Piper in-process on the shared model and the inference
threads, espeak-ng as a subprocess, pipecat's soxr resampling to the line rate), not by a
test-only synthesiser. The utterance is spoken as one piece (`first_chunk_chars` at the maximum),
as a caller says it, rather than cut where the bot would start speaking early.

Piper's noise settings make each render slightly different, so the transcript cache
(`transcript_cache`) is also what makes two runs compare classifiers on identical input.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Any

import numpy as np

from audio_models.catalogue import (Catalogue, EspeakSettings, EspeakVoiceSpec, PiperVoiceSpec,
                                    load_catalogue)
from audio_models.prompt_cache import PromptCache
from voicebot.services.catalogue_tts.text_chunks import MAX_CHUNK
from voicebot.services.tts import create_tts_service

FAST_JOE_LENGTH_SCALE = 0.8  # Piper length_scale: 20 % shorter phonemes than en-joe's 1.0
SLOW_KATE_FACTOR = 1.2       # en-kate's length_scale (1.55) stretched by this: 20 % slower
ESPEAK_WPM = 160             # espeak-ng's pace in the listening tests (tests/test_asr_vad.py)


@dataclass(frozen=True)
class Variant:
    """An evaluation voice that is not in the catalogue: a Piper voice with other settings,
    or an espeak-ng voice with its own settings."""

    id: str
    description: str
    base: str | None = None                # catalogue Piper voice to start from
    piper: dict[str, float] | None = None  # PiperSettings fields to override
    espeak: EspeakSettings | None = None
    gender: str = "male"


def _variants(catalogue: Catalogue) -> list[Variant]:
    kate = catalogue.voice("en-kate")
    assert isinstance(kate, PiperVoiceSpec)
    return [
        Variant("en-joe-fast", "en-joe at length_scale 0.8: a hurried caller", "en-joe",
                {"length_scale": FAST_JOE_LENGTH_SCALE}),
        Variant("en-kate-slow", "en-kate 20 % slower: a deliberate caller", "en-kate",
                {"length_scale": round(kate.piper.length_scale * SLOW_KATE_FACTOR, 3)},
                gender="female"),
        Variant("en-espeak", "espeak-ng en-us: robotic formant speech, hard for tiny.en",
                espeak=EspeakSettings(voice="en-us", speed_wpm=ESPEAK_WPM, pitch=50)),
        Variant("en-espeak-f3", "espeak-ng en-us+f3: its female-pitch variant",
                espeak=EspeakSettings(voice="en-us+f3", speed_wpm=ESPEAK_WPM, pitch=50),
                gender="female"),
    ]


#: Voices used when `--voices` is not given, per locale (zh: every catalogue zh voice).
DEFAULT_VOICES: dict[str, tuple[str, ...]] = {
    "en": ("en-joe", "en-joe-fast", "en-kate", "en-kate-slow", "en-espeak", "en-espeak-f3"),
}


def _spec(variant: Variant, catalogue: Catalogue, locale: str) -> PiperVoiceSpec | EspeakVoiceSpec:
    if variant.espeak is not None:
        return EspeakVoiceSpec(id=variant.id, locale=locale, gender=variant.gender,  # type: ignore[arg-type]
                               engine="espeak", description=variant.description,
                               espeak=variant.espeak)
    assert variant.base is not None
    base = catalogue.voice(variant.base)
    assert isinstance(base, PiperVoiceSpec)
    owner = catalogue.model_owner(variant.base).id
    return base.model_copy(update={
        "id": variant.id, "description": variant.description, "model": None,
        "derived_from": owner, "piper": base.piper.model_copy(update=variant.piper or {}),
    })


@lru_cache(maxsize=1)
def evaluation_catalogue() -> Catalogue:
    """The voice catalogue plus the evaluation's variants (validated like the catalogue)."""
    catalogue = load_catalogue()
    return catalogue.with_voices([_spec(v, catalogue, "en") for v in _variants(catalogue)])


def default_voices(locale: str) -> list[str]:
    """The locale's evaluation voices: the set above, else every catalogue voice of the locale."""
    if locale in DEFAULT_VOICES:
        return list(DEFAULT_VOICES[locale])
    return [v.id for v in load_catalogue().voices_for(locale)]


def check_voices(locale: str, voice_ids: list[str]) -> None:
    """Raise ValueError naming the known voices when one is unknown or of another locale."""
    catalogue = evaluation_catalogue()
    known = [v.id for v in catalogue.voices_for(locale)]
    unknown = [v for v in voice_ids if v not in known]
    if unknown:
        raise ValueError(f"unknown {locale!r} voice(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if not voice_ids:
        raise ValueError("no voices to speak with")


def voice_settings(voice_id: str) -> dict[str, Any]:
    """Everything that decides how `voice_id` sounds: its catalogue entry (settings, the model
    it uses) and the synthesiser's version, for the transcript cache's key."""
    catalogue = evaluation_catalogue()
    spec = catalogue.voice(voice_id)
    out: dict[str, Any] = {"spec": spec.model_dump(mode="json", exclude={"description"})}
    if isinstance(spec, PiperVoiceSpec):
        out["model"] = str(catalogue.model_path(voice_id))
        out["engine_version"] = _version("piper-tts") + "/" + _version("onnxruntime")
    else:
        out["engine_version"] = _espeak_version(spec.espeak.binary)
    return out


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


@lru_cache(maxsize=4)
def _espeak_version(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        return "missing"
    run = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    return run.stdout.strip()


async def speak(voice_id: str, text: str, sample_rate: int) -> np.ndarray:
    """`text` said by `voice_id` as int16 mono at `sample_rate`, through the production TTS
    service (a fresh one per utterance, as a call has its own; the model itself is shared)."""
    tts = create_tts_service(voice_id, sample_rate=sample_rate, catalogue=evaluation_catalogue(),
                             prompt_cache=PromptCache(max_bytes=0), first_chunk_chars=MAX_CHUNK,
                             splice_values=False)
    pcm = await tts.render(text, sample_rate)
    return np.frombuffer(pcm, dtype="<i2").copy()

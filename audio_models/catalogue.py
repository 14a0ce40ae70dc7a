"""The voice and recogniser catalogue: `voices.yaml`, validated, with lookups by id and locale.

Scripts name voices by id (`scripts/<locale>/strategy.yaml` `voices:`) and the voice loop asks for
a locale's recogniser, so both go through here instead of hard-coding model files. A typo in an id
or a missing model must fail with a message that says what exists or what to install, not deep
inside Piper or Vosk.
"""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from audio_models.environment import RECOGNIZER_ENV, env_value
from audio_models.sources import ModelNotFoundError, ModelSource

CATALOGUE_FILE = Path(__file__).with_name("voices.yaml")
_ID = r"^[a-z]{2,3}-[a-z0-9-]+$"

__all__ = [
    "RECOGNIZER_ENV", "Catalogue", "EspeakVoiceSpec", "ModelNotFoundError", "PiperVoiceSpec",
    "RecognizerSpec",
    "UnknownModelError", "VoiceSpec", "load_catalogue", "recognizer", "recognizer_for",
    "voice", "voices_for",
]


class UnknownModelError(KeyError):
    """An id or locale the catalogue does not define; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would repr() the message, quotes and all
        return str(self.args[0])


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID, description="what scripts and config refer to")
    locale: str = Field(pattern=r"^[a-z]{2,3}$", description="script locale: en, zh, ko")
    description: str


class PiperSettings(BaseModel):
    """Piper synthesis settings, plus the sample-rate trick that derives a voice from another."""

    model_config = ConfigDict(extra="forbid")

    speaker_id: int | None = Field(None, ge=0, description="multi-speaker models only")
    length_scale: float = Field(1.0, gt=0.3, lt=3.0, description=">1 slower")
    noise_scale: float = Field(0.667, ge=0.0, le=1.5, description="generator noise (expression)")
    noise_w_scale: float = Field(0.8, ge=0.0, le=1.5, description="phoneme-duration noise")
    rate_factor: float = Field(
        1.0, ge=0.5, le=2.0,
        description="samples read as if at model rate x r: pitch, formants x r; duration / r",
    )


class PiperVoiceSpec(_Entry):
    engine: Literal["piper"]
    gender: Literal["female", "male"]
    model: ModelSource | None = Field(None, description="omitted for a voice derived_from another")
    derived_from: str | None = Field(None, description="voice whose model this voice reuses")
    piper: PiperSettings = PiperSettings()


class EspeakSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    voice: str = Field(description="espeak-ng voice with variant, e.g. cmn-latn-pinyin+f3")
    speed_wpm: int = Field(175, ge=80, le=450)
    pitch: int = Field(50, ge=0, le=99)
    binary: str = Field("espeak-ng", description="program name or path")
    install: str = "apt-get install -y espeak-ng"

    def resolve_binary(self, owner: str) -> str:
        """The espeak-ng executable, or ModelNotFoundError saying how to install it."""
        found = shutil.which(self.binary)
        if found is None:
            raise ModelNotFoundError(f"voice {owner!r} needs {self.binary!r}: {self.install}")
        return found


class EspeakVoiceSpec(_Entry):
    engine: Literal["espeak"]
    gender: Literal["female", "male"]
    espeak: EspeakSettings


VoiceSpec = Annotated[PiperVoiceSpec | EspeakVoiceSpec, Field(discriminator="engine")]


class RecognizerSpec(_Entry):
    engine: Literal["whisper", "vosk"]
    model: ModelSource
    default: bool = Field(False, description="the locale's recogniser for recognizer_for()")
    language: str | None = Field(None, description="language Whisper transcribes (default en)")
    compute_type: str = Field("int8", description="CTranslate2 compute type (Whisper)")
    hints: bool = Field(True, description="Whisper: a call's hint words (names, lender, the "
                                          "strategy's asr_hints) go to the decoder as hotwords")
    convert: str | None = Field(None, description="Whisper: OpenCC conversion of the text, "
                                                  "e.g. t2s (traditional to simplified)")
    sample_rate: int = 16000


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    voices: list[VoiceSpec]
    recognizers: list[RecognizerSpec]
    _base_dir: Path = PrivateAttr(default=CATALOGUE_FILE.parent)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        ids = [e.id for e in [*self.voices, *self.recognizers]]
        if dupes := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"duplicate ids: {dupes}")
        by_id = {v.id: v for v in self.voices}
        for v in self.voices:
            if not isinstance(v, PiperVoiceSpec):
                continue
            base = by_id.get(v.derived_from) if v.derived_from else None
            if v.derived_from and not (isinstance(base, PiperVoiceSpec) and base.model):
                raise ValueError(
                    f"{v.id}: derived_from {v.derived_from!r} is not a Piper voice with a model"
                )
            if bool(v.model) == bool(v.derived_from):
                raise ValueError(f"{v.id}: give exactly one of model, derived_from")
        defaults = [r.locale for r in self.recognizers if r.default]
        if dupes := sorted({loc for loc in defaults if defaults.count(loc) > 1}):
            raise ValueError(f"more than one default recogniser for {dupes}")
        return self

    def with_voices(self, extra: list[PiperVoiceSpec | EspeakVoiceSpec]) -> Catalogue:
        """A validated copy with `extra` voices added (e.g. an evaluation's faster or slower
        variants of catalogued voices), resolving model paths as this catalogue does; a
        derived Piper voice among them still shares its base's loaded model."""
        out = Catalogue(voices=[*self.voices, *extra], recognizers=self.recognizers)
        out._base_dir = self._base_dir
        return out

    def voice(self, voice_id: str) -> PiperVoiceSpec | EspeakVoiceSpec:
        for v in self.voices:
            if v.id == voice_id:
                return v
        raise UnknownModelError(
            f"unknown voice {voice_id!r}; the catalogue ({CATALOGUE_FILE.name}) defines: "
            + ", ".join(v.id for v in self.voices)
        )

    def voices_for(self, locale: str) -> list[PiperVoiceSpec | EspeakVoiceSpec]:
        """The locale's voices in catalogue order (`en-US` and `en_US` mean `en`)."""
        return [v for v in self.voices if v.locale == _language(locale)]

    def recognizer(self, recognizer_id: str) -> RecognizerSpec:
        for r in self.recognizers:
            if r.id == recognizer_id:
                return r
        known = ", ".join(r.id for r in self.recognizers)
        raise UnknownModelError(f"unknown recogniser {recognizer_id!r}; known: {known}")

    def recognizer_for(self, locale: str, choice: str | None = None) -> RecognizerSpec:
        """The locale's recogniser: the one of its locale among `choice` (comma-separated ids;
        default `$VOICEBOT_RECOGNIZER`), else its default one, else its first one."""
        mine = [r for r in self.recognizers if r.locale == _language(locale)]
        if not mine:
            known = sorted({r.locale for r in self.recognizers})
            raise UnknownModelError(
                f"no recogniser for locale {locale!r}; locales with one: {known}"
            )
        chosen = choice if choice is not None else env_value(RECOGNIZER_ENV) or ""
        for wanted in filter(None, (c.strip() for c in chosen.split(","))):
            spec = self.recognizer(wanted)  # an unknown id fails, listing the known ones
            if spec.locale == mine[0].locale:
                return spec
        return next((r for r in mine if r.default), mine[0])

    def model_owner(self, voice_id: str) -> PiperVoiceSpec:
        """The Piper voice whose model `voice_id` uses: itself, or the voice it derives from."""
        spec = self.voice(voice_id)
        if not isinstance(spec, PiperVoiceSpec):
            raise ValueError(f"{voice_id!r} is an {spec.engine} voice, not a Piper one")
        if spec.derived_from:
            return self.voice(spec.derived_from)  # type: ignore[return-value]  # validated
        return spec

    def model_path(self, entry_id: str) -> Path:
        """Resolved model path of a Piper voice (its base's for a derived one) or a recogniser."""
        if any(r.id == entry_id for r in self.recognizers):
            spec: PiperVoiceSpec | RecognizerSpec = self.recognizer(entry_id)
        else:
            spec = self.model_owner(entry_id)
        assert spec.model is not None
        return spec.model.resolve(spec.id, self._base_dir)


def _language(locale: str) -> str:
    return locale.replace("_", "-").split("-")[0].lower()


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Parse and validate a catalogue file; the default one is parsed once per process."""
    return _load(Path(path).resolve() if path else CATALOGUE_FILE)


@lru_cache(maxsize=8)
def _load(path: Path) -> Catalogue:
    with open(path, encoding="utf-8") as fh:
        catalogue = Catalogue.model_validate(yaml.safe_load(fh))
    catalogue._base_dir = path.parent
    return catalogue


def voice(voice_id: str) -> PiperVoiceSpec | EspeakVoiceSpec:
    return load_catalogue().voice(voice_id)


def voices_for(locale: str) -> list[PiperVoiceSpec | EspeakVoiceSpec]:
    return load_catalogue().voices_for(locale)


def recognizer(recognizer_id: str) -> RecognizerSpec:
    return load_catalogue().recognizer(recognizer_id)


def recognizer_for(locale: str, choice: str | None = None) -> RecognizerSpec:
    return load_catalogue().recognizer_for(locale, choice)

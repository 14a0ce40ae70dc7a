"""Load each catalogued model once per process and hand the same object to every call.

A collection engine runs many calls in one process; loading Piper (0.5 s), Whisper (0.6 s) or Vosk
(2.7 s, 530 MB) per call would add that to every call's start and multiply memory. Models are
cached by the catalogue id that owns the model file: a derived voice (en-kate) gets its base
voice's (en-joe's) PiperVoice, so it costs no extra memory. Loading is thread-safe and happens
once even when several threads ask at the same moment; different models load in parallel.
PiperVoice, WhisperModel and vosk.Model are safe to share between threads for inference.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from audio_models.catalogue import Catalogue, load_catalogue

if TYPE_CHECKING:
    import vosk
    from faster_whisper import WhisperModel
    from piper import PiperVoice

T = TypeVar("T")

_models: dict[str, Any] = {}
_key_locks: dict[str, threading.Lock] = {}
_lock = threading.Lock()


def _load_once(key: str, load: Callable[[], T]) -> T:
    """The model cached under `key`, loading it with `load` if no thread has yet."""
    with _lock:
        if key in _models:
            return _models[key]
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:  # one loader per key; other keys are not blocked meanwhile
        with _lock:
            if key in _models:
                return _models[key]
        model = load()
        with _lock:
            _models[key] = model
        return model


def piper_voice(voice_id: str, catalogue: Catalogue | None = None) -> PiperVoice:
    """The shared PiperVoice for a Piper voice id (a derived voice shares its base's)."""
    cat = catalogue if catalogue is not None else load_catalogue()
    owner = cat.model_owner(voice_id)

    def load() -> PiperVoice:
        from piper import PiperVoice

        return PiperVoice.load(cat.model_path(owner.id))

    return _load_once(f"piper:{owner.id}", load)


def whisper_model(
    recognizer_id: str = "en-whisper-tiny", catalogue: Catalogue | None = None
) -> WhisperModel:
    """The shared faster-whisper model for a Whisper recogniser id (CPU, catalogue compute type)."""
    cat = catalogue if catalogue is not None else load_catalogue()
    spec = cat.recognizer(recognizer_id)
    if spec.engine != "whisper":
        raise ValueError(f"{recognizer_id!r} is a {spec.engine} recogniser, not Whisper")

    def load() -> WhisperModel:
        from faster_whisper import WhisperModel

        path = cat.model_path(spec.id)
        return WhisperModel(str(path), device="cpu", compute_type=spec.compute_type)

    return _load_once(f"whisper:{spec.id}", load)


def vosk_model(
    recognizer_id: str, catalogue: Catalogue | None = None, *, allow_download: bool = False
) -> vosk.Model:
    """The shared vosk.Model for a Vosk recogniser id.

    With `allow_download`, a model that is not installed is fetched by Vosk itself for the
    catalogue's `vosk_lang` (needs internet; Vosk keeps it in ~/.cache/vosk for next time).
    """
    cat = catalogue if catalogue is not None else load_catalogue()
    spec = cat.recognizer(recognizer_id)
    if spec.engine != "vosk":
        raise ValueError(f"{recognizer_id!r} is a {spec.engine} recogniser, not Vosk")

    def load() -> vosk.Model:
        import vosk

        vosk.SetLogLevel(-1)
        try:
            return vosk.Model(str(cat.model_path(spec.id)))
        except FileNotFoundError:
            if not (allow_download and spec.model.vosk_lang):
                raise
            return vosk.Model(lang=spec.model.vosk_lang)

    return _load_once(f"vosk:{spec.id}", load)


def loaded() -> list[str]:
    """Keys of the models loaded so far in this process, e.g. `piper:en-joe`."""
    with _lock:
        return sorted(_models)

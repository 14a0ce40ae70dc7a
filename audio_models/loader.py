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
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from audio_models.catalogue import Catalogue, load_catalogue
from audio_models.environment import onnx_threads

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
        import json

        from piper import PiperVoice
        from piper.config import PiperConfig

        path = cat.model_path(owner.id)
        config = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
        return PiperVoice(session=_onnx_session(path), config=PiperConfig.from_dict(config))

    return _load_once(f"piper:{owner.id}", load)


def _onnx_session(path: Path) -> Any:
    """An onnxruntime session for a server running many calls at once.

    onnxruntime's defaults (one intra-op thread per core, idle threads spinning) suit one
    inference at a time.  With concurrent calls each synthesis already runs in its own thread:
    more intra-op threads only oversubscribe the cores, and spinning burns CPU between
    operators.  Measured for Piper joe on 2 cores (docs/performance.md): 0.15 CPU-s per second
    of speech with the defaults, 0.083 with one thread and no spinning, and 2x the throughput
    with 4 concurrent syntheses.  `VOICEBOT_ONNX_THREADS` overrides the thread count; 0 keeps
    onnxruntime's defaults (one thread per core, spinning), e.g. to measure the difference."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    threads = onnx_threads()
    if threads > 0:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


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

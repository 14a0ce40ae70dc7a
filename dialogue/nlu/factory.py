"""Build the NLU backend a locale's strategy asks for; models are cached per process."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from dialogue.environment import RASA_URL_ENV, setting
from dialogue.nlu.classifier import BuiltinNlu
from dialogue.nlu.decision import DecisionSettings
from dialogue.nlu.rasa_format import load_nlu_files
from dialogue.nlu.rasa_http import FallbackNlu, RasaHttpNlu
from dialogue.nlu.result import NluBackend


@lru_cache(maxsize=16)
def _builtin(files: tuple[tuple[Path, int], ...], locale: str, threshold: float,
             floor: float, embedding_weight: float) -> BuiltinNlu:
    return BuiltinNlu.from_data(load_nlu_files([p for p, _ in files]), locale, threshold, floor,
                                embedding_weight)


def builtin_for(paths: Path | Sequence[Path], locale: str, threshold: float,
                protected_floor: float = DecisionSettings.protected_floor,
                embedding_weight: float = 0.0) -> BuiltinNlu:
    """The built-in classifier trained on these files (cached while none of them changes)."""
    files = (paths,) if isinstance(paths, Path) else tuple(paths)
    return _builtin(tuple((p, p.stat().st_mtime_ns) for p in files), locale, threshold,
                    protected_floor, embedding_weight)


class ScriptsWithNlu(Protocol):
    """What `build_nlu` reads of a locale's scripts (`dialogue.script.loader.LocaleScripts`),
    named here so that `nlu` does not import `script`: the script validator imports the NLU
    data format, and the arrow between the two must point one way."""

    locale: str

    @property
    def nlu_paths(self) -> tuple[Path, ...]: ...

    @property
    def strategy(self) -> Any: ...


def build_nlu(scripts: ScriptsWithNlu) -> NluBackend:
    """The strategy's backend; `VOICEBOT_RASA_URL` switches any locale to a Rasa server."""
    cfg = scripts.strategy.nlu
    builtin = builtin_for(scripts.nlu_paths, scripts.locale, cfg.confidence_threshold,
                          cfg.protected_floor, cfg.embedding_weight)
    url = setting(RASA_URL_ENV) or (cfg.rasa_url if cfg.backend == "rasa" else None)
    if url:
        return FallbackNlu(RasaHttpNlu(url, scripts.locale, cfg.confidence_threshold,
                                       protected_floor=cfg.protected_floor), builtin)
    return builtin

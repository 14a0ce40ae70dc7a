"""The one place `audio_models` reads the process environment.

Why a reader here rather than a parameter: the model cache folder, the recogniser a deployment
prefers, the prompt-audio folder and ONNX's thread count are process-wide defaults needed deep in
this layer by every caller, and this layer must not import the engine's settings
(`voicebot/config.py`, which declares each name read here, with its meaning, type and default).
Read at each call, never at import, so a value a test or a command sets first is seen.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "VOICEBOT_CACHE"
RECOGNIZER_ENV = "VOICEBOT_RECOGNIZER"  # recogniser ids, comma-separated, each replacing its locale's default
PROMPT_CACHE_DIR_ENV = "VOICEBOT_PROMPT_CACHE_DIR"
ONNX_THREADS_ENV = "VOICEBOT_ONNX_THREADS"


def env_value(name: str) -> str | None:
    """The variable `name` (one of the above, or a catalogue model's `env`); None if unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def cache_root() -> Path:
    """$VOICEBOT_CACHE, else ~/.cache/voicebot."""
    return Path(env_value(CACHE_ENV) or Path.home() / ".cache" / "voicebot")


def onnx_threads() -> int:
    """$VOICEBOT_ONNX_THREADS, else 1; ValueError naming the variable for anything but a count."""
    raw = env_value(ONNX_THREADS_ENV)
    try:
        threads = int(raw) if raw else 1
    except ValueError:
        threads = -1
    if threads < 0:
        raise ValueError(f"{ONNX_THREADS_ENV}={raw!r}: a whole number of threads (0 or more) is expected")
    return threads

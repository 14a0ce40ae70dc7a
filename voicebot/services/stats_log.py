"""Per-inference timing events (ASR utterances, TTS pieces) appended to a JSONL file, and
handed to in-process listeners.

Why a file: a benchmark runs the server as a separate process and needs the real-time factors
of its recogniser and voices under load, per inference, without a change to the call record.
Off by default (no cost); `VOICEBOT_STATS_LOG=path` switches it on for a process.  Writes are
one short line each, under a lock, so threads and calls can share it.  `listeners` get the same
events (the server's `/metrics` observes them: voicebot/server/metrics.py), so both report the
same numbers; a listener runs on the inference's thread and must be quick.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from voicebot import config

ENV = "VOICEBOT_STATS_LOG"

_lock = threading.Lock()
_file: IO[str] | None = None
_path: str | None = None
#: Called with (kind, fields) for every event, file or not.
listeners: list[Callable[[str, dict[str, Any]], None]] = []


def _log_path() -> str | None:
    named = config.current().stats_log
    return str(named) if named else None


def enabled() -> bool:
    return bool(listeners) or _log_path() is not None


def record(kind: str, **fields: Any) -> None:
    """Hand one event (`kind`: "asr", "tts"...) to the listeners, and append it to the file
    VOICEBOT_STATS_LOG names, if any."""
    global _file, _path
    for listener in listeners:
        listener(kind, fields)
    path = _log_path()
    if not path:
        return
    line = json.dumps({"kind": kind, "t": time.time(), **fields}) + "\n"
    with _lock:
        if _file is None or _path != path:
            _file = open(path, "a", encoding="utf-8", buffering=1)  # line-buffered: readable live
            _path = path
        _file.write(line)

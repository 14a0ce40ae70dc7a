"""Per-inference timing events (ASR utterances, TTS pieces) appended to a JSONL file.

Why a file: a benchmark runs the server as a separate process and needs the real-time factors
of its recogniser and voices under load, per inference, without a metrics endpoint or a change
to the call record.  Off by default (no cost); `VOICEBOT_STATS_LOG=path` switches it on for a
process.  Writes are one short line each, under a lock, so threads and calls can share it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import IO, Any

ENV = "VOICEBOT_STATS_LOG"

_lock = threading.Lock()
_file: IO[str] | None = None
_path: str | None = None


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def record(kind: str, **fields: Any) -> None:
    """Append one event (`kind`: "asr" or "tts") if VOICEBOT_STATS_LOG names a file."""
    global _file, _path
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps({"kind": kind, "t": time.time(), **fields}) + "\n"
    with _lock:
        if _file is None or _path != path:
            _file = open(path, "a", encoding="utf-8", buffering=1)  # line-buffered: readable live
            _path = path
        _file.write(line)

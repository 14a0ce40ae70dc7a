"""Where the server's CPU goes under load: py-spy attached to each server worker for a level,
its samples grouped by what the call loop spends them on.

py-spy is optional (`pip install py-spy`); it samples the running server from outside, without
pausing it, so the profile barely changes what it measures.  Time inside CTranslate2 (Whisper),
onnxruntime (Piper) or soxr is charged to the Python frame that called it.  A sample is put
in the first bucket, in the order below, that any frame of its stack belongs to.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# (bucket, substrings of a frame "function (file:line)"); first match wins, so order matters.
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ASR: Whisper encode/decode", ("whisper/decode.py", "ctranslate2", "faster_whisper")),
    ("ASR: resampling to 16 kHz", ("whisper/stt.py",)),
    ("TTS: Piper synthesis", ("piper/voice.py", "piper/phonemize", "onnxruntime", "espeak")),
    ("TTS: resampling / chunking", ("services/catalogue_tts/synthesis.py", "file_resampler", "soxr")),
    ("VAD", ("vad_analyzer", "webrtcvad", "audio/vad/", "vad_processor")),
    ("wire: Twilio (de)serialising, mu-law, base64", ("serializer", "base64", "audioop", "json/")),
    ("recording (audio buffer, WAV)", ("audio_buffer_processor", "recording/")),
    ("dialogue and NLU", ("dialogue/",)),
    ("pipecat frame handling", ("pipecat/",)),
    ("WebSocket and HTTP I/O", ("websockets/", "uvicorn/", "starlette/", "fastapi/")),
    ("asyncio event loop", ("asyncio/",)),
)


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start(pid: int, out: Path, duration_s: float, native: bool = False) -> subprocess.Popen:
    """Sample `pid` for `duration_s`. Without `native` py-spy never pauses the server (the
    figures stay comparable); time in C extensions is charged to the Python frame calling it."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("--profile needs py-spy: pip install py-spy")
    command = [exe, "record", "--pid", str(pid), "--rate", "50", "--format", "raw", "--output", str(out),
               "--duration", str(max(1, int(duration_s)))]
    command.append("--native" if native else "--nonblocking")  # native stacks need pauses
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def summarise(path: Path, top: int = 15) -> dict:
    """Share of on-CPU samples per bucket, and the hottest leaf functions."""
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaves[frames[-1]] += count
        buckets[next((name for name, keys in BUCKETS
                      if any(key in frame for frame in frames for key in keys)), "other")] += count
    share = {name: round(100 * n / total, 1) for name, n in buckets.most_common()} if total else {}
    return {"samples": total, "buckets_percent": share,
            "top_leaves_percent": {name: round(100 * n / total, 1) for name, n in leaves.most_common(top)}}

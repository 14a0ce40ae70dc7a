"""Rendered audio of static prompts, kept in memory and shared by every call in the process.

Most of what a collection bot says is fixed script text ("This call may be recorded…"); only the
per-account parts (name, amount, date) change. Rendering the fixed text once per voice and sample
rate and replaying it saves synthesis CPU on every call and gives those prompts near-zero time to
first audio. Per-account text must never be stored: it would fill the cache with one-off entries
and keep personal data in memory, so callers store only text a script marks static.

The cache is an LRU bounded by bytes (16 KB per second of 8 kHz audio, 32 KB at 16 kHz: the
64 MB default holds over half an hour at 16 kHz). It is thread-safe because calls may run on
several event loops.

With a `directory` (`VOICEBOT_PROMPT_CACHE_DIR`, `voicebot serve --prompt-cache`), renders are
also kept on disk, one file per prompt: a restarted server, and every worker process on the
machine, starts with the script's fixed text already rendered instead of paying for it in its
first calls. The files sit under a folder named after the voice catalogue's fingerprint, so a
changed voice setting never replays audio rendered with the old one. Only script text reaches
the cache (see above), so the disk holds no personal data either.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from audio_models.environment import PROMPT_CACHE_DIR_ENV, env_value

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def normal_text(text: str) -> str:
    """Text as the cache compares it: whitespace runs collapsed, ends stripped."""
    return " ".join(text.split())


@dataclass(frozen=True)
class PromptKey:
    """What makes two renders interchangeable: same voice, same text, same output rate."""

    voice_id: str
    text: str
    sample_rate: int

    @classmethod
    def of(cls, voice_id: str, text: str, sample_rate: int) -> PromptKey:
        return cls(voice_id, normal_text(text), sample_rate)


@dataclass(frozen=True)
class PromptCacheStats:
    hits: int
    misses: int
    entries: int
    bytes: int
    max_bytes: int
    evictions: int


class PromptCache:
    """LRU of rendered prompts: each entry is the PCM segments (16-bit mono) in play order."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, directory: Path | str | None = None):
        self.max_bytes = max_bytes
        self.directory = Path(directory) / catalogue_fingerprint() if directory else None
        self._entries: OrderedDict[PromptKey, tuple[bytes, ...]] = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = self._evictions = 0
        self._lock = threading.Lock()

    def get(self, key: PromptKey) -> tuple[bytes, ...] | None:
        """The stored segments (now most recently used), counting a hit or a miss."""
        with self._lock:
            segments = self._entries.get(key)
            if segments is not None:
                self._entries.move_to_end(key)
                self._hits += 1
                return segments
        segments = self._read(key) if self.directory else None
        with self._lock:
            if segments is None:
                self._misses += 1
                return None
            self._hits += 1
        self._remember(key, segments)
        return segments

    def put(self, key: PromptKey, segments: tuple[bytes, ...] | list[bytes]) -> bool:
        """Store a render, evicting least recently used ones; False if it alone is too big."""
        segments = tuple(segments)
        size = sum(len(s) for s in segments)
        if size > self.max_bytes:
            return False
        if self.directory:
            self._write(key, segments)
        return self._remember(key, segments, size)

    def _remember(self, key: PromptKey, segments: tuple[bytes, ...], size: int | None = None) -> bool:
        if size is None:
            size = sum(len(s) for s in segments)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= sum(len(s) for s in old)
            self._entries[key] = segments
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= sum(len(s) for s in evicted)
                self._evictions += 1
            return True

    def _path(self, key: PromptKey) -> Path:
        assert self.directory is not None
        name = hashlib.sha256(f"{key.voice_id}\n{key.sample_rate}\n{key.text}".encode()).hexdigest()
        return self.directory / f"{name[:40]}.pcm"

    def _read(self, key: PromptKey) -> tuple[bytes, ...] | None:
        """The render on disk: a JSON header line (key, segment sizes), then the PCM."""
        try:
            data = self._path(key).read_bytes()
            header_end = data.index(b"\n")
            header = json.loads(data[:header_end])
        except (OSError, ValueError):
            return None  # absent, or half-written by a process that died: render again
        if header.get("key") != [key.voice_id, key.text, key.sample_rate]:
            return None
        segments, at = [], header_end + 1
        for size in header["sizes"]:
            segments.append(data[at:at + size])
            at += size
        return tuple(segments) if at == len(data) else None

    def _write(self, key: PromptKey, segments: tuple[bytes, ...]) -> None:
        """Atomically (write, then rename), so a reader never sees half a file."""
        path = self._path(key)
        header = json.dumps({"key": [key.voice_id, key.text, key.sample_rate],
                             "sizes": [len(s) for s in segments]}).encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(header + b"\n" + b"".join(segments))
            tmp.replace(path)
        except OSError:
            pass  # a full or read-only disk costs renders, never a call

    def __contains__(self, key: object) -> bool:  # no hit/miss counted
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def hits(self) -> int:
        return self._hits

    @property
    def misses(self) -> int:
        return self._misses

    def stats(self) -> PromptCacheStats:
        with self._lock:
            return PromptCacheStats(
                hits=self._hits, misses=self._misses, entries=len(self._entries),
                bytes=self._bytes, max_bytes=self.max_bytes, evictions=self._evictions,
            )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def catalogue_fingerprint() -> str:
    """Names the renders of this voice catalogue, synthesiser and resampler: a change to any of
    them starts a new folder rather than replaying audio made with the old one."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256((Path(__file__).parent / "voices.yaml").read_bytes())
    for package in ("piper-tts", "pipecat-ai", "soxr"):
        try:
            digest.update(f"{package}={version(package)}".encode())
        except PackageNotFoundError:
            pass
    return digest.hexdigest()[:16]


_default: PromptCache | None = None


def default_prompt_cache() -> PromptCache:
    """The process-wide cache that TTS services use unless given their own; on disk too when
    VOICEBOT_PROMPT_CACHE_DIR names a folder."""
    global _default
    if _default is None:
        _default = PromptCache(directory=env_value(PROMPT_CACHE_DIR_ENV))
    return _default


def use_default_prompt_cache(cache: PromptCache) -> None:
    """Make `cache` the process-wide one (`voicebot serve --prompt-cache`), replacing any other."""
    global _default
    _default = cache

"""Rendered audio of static prompts, kept in memory and shared by every call in the process.

Most of what a collection bot says is fixed script text ("This call may be recorded…"); only the
per-account parts (name, amount, date) change. Rendering the fixed text once per voice and sample
rate and replaying it saves synthesis CPU on every call and gives those prompts near-zero time to
first audio. Per-account text must never be stored: it would fill the cache with one-off entries
and keep personal data in memory, so callers store only text a script marks static.

The cache is an LRU bounded by bytes (16 KB per second of 8 kHz audio, 32 KB at 16 kHz: the
64 MB default holds over half an hour at 16 kHz). It is thread-safe because calls may run on
several event loops.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

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

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[PromptKey, tuple[bytes, ...]] = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = self._evictions = 0
        self._lock = threading.Lock()

    def get(self, key: PromptKey) -> tuple[bytes, ...] | None:
        """The stored segments (now most recently used), counting a hit or a miss."""
        with self._lock:
            segments = self._entries.get(key)
            if segments is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return segments

    def put(self, key: PromptKey, segments: tuple[bytes, ...] | list[bytes]) -> bool:
        """Store a render, evicting least recently used ones; False if it alone is too big."""
        segments = tuple(segments)
        size = sum(len(s) for s in segments)
        if size > self.max_bytes:
            return False
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


_default = PromptCache()


def default_prompt_cache() -> PromptCache:
    """The process-wide cache that TTS services use unless given their own."""
    return _default

"""A WAV file that is valid at every moment of the call.

The header's sizes are rewritten after each append, so if the process dies mid-call the
recording up to the last flush still opens in any player: nothing already said is lost.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def _header(data_bytes: int, sample_rate: int, channels: int) -> bytes:
    byte_rate = sample_rate * channels * 2
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, byte_rate, channels * 2, 16)
            + b"data" + struct.pack("<I", data_bytes))


class GrowingWav:
    def __init__(self, path: Path, sample_rate: int, channels: int = 2):
        self.path, self.sample_rate, self.channels = path, sample_rate, channels
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("wb")
        self._data = 0
        self._left, self._right = bytearray(), bytearray()
        #: Why the file could not be started (a full disk): the call still runs, and the header
        #: is written again with the first audio that the disk takes.
        self.failed: str | None = None
        try:
            self._fh.write(_header(0, sample_rate, channels))
            self._fh.flush()
        except OSError as exc:
            self.failed = f"{type(exc).__name__}: {exc}"

    def append_stereo(self, left: bytes, right: bytes) -> None:
        """Append two mono int16 tracks; the longer one's excess waits for the next call."""
        self._left += left
        self._right += right
        n = min(len(self._left), len(self._right)) // 2
        if n:
            self._interleave(n)

    def _interleave(self, n: int) -> None:
        a = np.frombuffer(bytes(self._left[: 2 * n]), dtype="<i2")
        b = np.frombuffer(bytes(self._right[: 2 * n]), dtype="<i2")
        del self._left[: 2 * n], self._right[: 2 * n]
        frames = np.empty(2 * n, dtype="<i2")
        frames[0::2], frames[1::2] = a, b
        self._write(frames.tobytes())

    def _write(self, data: bytes) -> None:
        self._fh.seek(0, 2)
        self._fh.write(data)
        self._data += len(data)
        self._fh.seek(0)
        self._fh.write(_header(self._data, self.sample_rate, self.channels))
        self._fh.flush()

    @property
    def seconds(self) -> float:
        return self._data / (2 * self.channels * self.sample_rate)

    def close(self) -> None:
        """Flush what is left, padding the shorter track with silence."""
        if self._fh.closed:
            return
        n = max(len(self._left), len(self._right)) // 2
        if n:
            self._left += b"\x00" * (2 * n - len(self._left))
            self._right += b"\x00" * (2 * n - len(self._right))
            self._interleave(n)
        self._fh.close()

"""AudioSocket's type-length-value frames (Asterisk's res_audiosocket / chan_audiosocket).

    1 byte type | 2 bytes payload length, big-endian | payload

    0x00 hang up (no payload)        0x01 the call's UUID (16 bytes)    0x03 a DTMF digit (1 byte)
    0x10 audio: signed linear 16-bit little-endian, 8 kHz mono (320 bytes per 20 ms)
    0xff error (an optional 1-byte code)

Asterisk sends the UUID first, then audio every 20 ms; the application sends audio back in the
same format (it owns the timing: Asterisk plays what it gets as it gets it) and a hang-up frame
to end the call.
"""

from __future__ import annotations

import asyncio
import struct
import uuid
from dataclasses import dataclass

HANGUP, UUID, DTMF, AUDIO, ERROR = 0x00, 0x01, 0x03, 0x10, 0xFF
KINDS = {HANGUP: "hangup", UUID: "uuid", DTMF: "dtmf", AUDIO: "audio", ERROR: "error"}
HEADER = struct.Struct(">BH")
RATE = 8000
FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit audio


class FrameError(ValueError):
    """Bytes that are not an AudioSocket frame."""


@dataclass(frozen=True)
class Frame:
    kind: int
    payload: bytes = b""

    def encode(self) -> bytes:
        return HEADER.pack(self.kind, len(self.payload)) + self.payload

    @property
    def call_id(self) -> str:
        """The UUID frame's payload as text (xxxxxxxx-xxxx-...)."""
        if self.kind != UUID or len(self.payload) != 16:
            raise FrameError(f"not a 16-byte UUID frame (type {self.kind:#04x}, {len(self.payload)} bytes)")
        return str(uuid.UUID(bytes=self.payload))


def decode(data: bytes) -> Frame:
    """One whole frame (as `read_frame` hands them out); FrameError if the length disagrees."""
    if len(data) < HEADER.size:
        raise FrameError(f"{len(data)} bytes: shorter than a frame header")
    kind, length = HEADER.unpack_from(data)
    if len(data) != HEADER.size + length:
        raise FrameError(f"frame of type {kind:#04x} says {length} bytes but carries {len(data) - HEADER.size}")
    return Frame(kind, data[HEADER.size:])


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next whole frame's bytes (at most 3 + 65535: the length field bounds it), or None at
    the end of the stream."""
    try:
        header = await reader.readexactly(HEADER.size)
        _kind, length = HEADER.unpack(header)
        return header + await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        return None

"""Carrier audio into the pipeline a few messages at a time.

Carriers send 20 ms of audio per message.  Each input frame then travels through every
processor of the call's pipeline, and at 40 calls that per-frame cost, not the models, was what
a server's event loop spent most of its time on (docs/performance.md).  So decoded audio goes
into the pipeline `frame_ms` (40) at a time: half the frames, for 20 ms more delay on the VAD.
"""

from __future__ import annotations

from pipecat.frames.frames import InputAudioRawFrame

#: Audio per pipeline input frame: two carrier messages; the server passes its own setting
#: (`Limits.input_frame_ms`, VOICEBOT_INPUT_FRAME_MS; 20: one message each).
INPUT_FRAME_MS = 40


class InputBatcher:
    """Collects 16-bit PCM at the pipeline's rate; hands out one frame per `frame_ms`."""

    def __init__(self, frame_ms: int = INPUT_FRAME_MS):
        self.frame_ms = frame_ms
        self._pending = bytearray()

    def add(self, pcm: bytes, sample_rate: int) -> InputAudioRawFrame | None:
        self._pending += pcm
        if len(self._pending) < sample_rate * 2 * self.frame_ms // 1000:
            return None
        audio, self._pending = bytes(self._pending), bytearray()
        return InputAudioRawFrame(audio=audio, num_channels=1, sample_rate=sample_rate)

"""AudioSocket frames as a pipecat serializer: one whole TLV frame per message.

The TCP stream is cut into frames before it reaches the serializer (`connection.py`), so each
message here is one frame: audio (0x10, 16-bit 8 kHz, converted to the pipeline's rate and
batched 40 ms at a time), a digit (0x03), a hang-up (0x00: the connection closes next) or an
error (0xff).  Bot audio goes back as 0x10 frames of 320 bytes (20 ms), one write per frame as
it plays (`Pacing`).  A frame that
is malformed, or a second UUID, is a StreamError: the server logs its code and hangs up.
"""

from __future__ import annotations

from loguru import logger
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import AudioRawFrame, Frame, InputDTMFFrame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer

from telephony.carriers.asterisk.audiosocket import frames
from telephony.carriers.batching import INPUT_FRAME_MS, InputBatcher
from telephony.carriers.errors import BAD_MEDIA, BAD_MESSAGE, StreamError, check_size
from telephony.carriers.media_events import check_digit


class AudioSocketSerializer(FrameSerializer):
    def __init__(self, *, max_frame_bytes: int, input_frame_ms: int = INPUT_FRAME_MS):
        super().__init__()
        self.max_frame_bytes = max_frame_bytes
        self._sample_rate = 0
        self._input_resampler = create_stream_resampler()
        self._output_resampler = create_stream_resampler()
        self._batcher = InputBatcher(input_frame_ms)

    async def setup(self, setup: FrameProcessorSetup):
        self._sample_rate = setup.audio_in_sample_rate

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if not isinstance(frame, AudioRawFrame):
            return None  # no barge-in message: nothing is queued ahead (Pacing.lead_s = 0)
        audio = frame.audio if frame.sample_rate == frames.RATE else \
            await self._output_resampler.resample(frame.audio, frame.sample_rate, frames.RATE)
        # 20 ms per frame, as Asterisk sends them (a longer write, like the end silence, is cut up)
        return b"".join(frames.Frame(frames.AUDIO, audio[i:i + frames.FRAME_BYTES]).encode()
                        for i in range(0, len(audio), frames.FRAME_BYTES)) or None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        check_size(data, self.max_frame_bytes)
        if isinstance(data, str):
            raise StreamError(BAD_MESSAGE, "text on an AudioSocket connection")
        try:
            frame = frames.decode(data)
        except frames.FrameError as exc:
            raise StreamError(BAD_MESSAGE, f"malformed AudioSocket frame: {exc}") from None
        if frame.kind == frames.AUDIO:
            if len(frame.payload) % 2:
                raise StreamError(BAD_MEDIA, f"audio frame of {len(frame.payload)} bytes: 16-bit audio needs "
                                             "an even number of bytes")
            pcm = frame.payload if self._sample_rate == frames.RATE else \
                await self._input_resampler.resample(frame.payload, frames.RATE, self._sample_rate)
            return self._batcher.add(pcm, self._sample_rate) if pcm else None
        if frame.kind == frames.DTMF:
            return InputDTMFFrame(KeypadEntry(check_digit(frame.payload.decode("ascii", "replace"))))
        if frame.kind == frames.UUID:
            raise StreamError(BAD_MESSAGE, "unexpected second UUID frame")
        if frame.kind == frames.ERROR:
            logger.warning(f"AudioSocket error frame from Asterisk: {frame.payload.hex() or 'no code'}")
        return None  # hang-up (the connection closes next), error, and unknown kinds

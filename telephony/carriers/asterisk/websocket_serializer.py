"""Asterisk's chan_websocket media, as a strict pipecat serializer.

Binary messages are raw audio in the channel's codec (`ulaw`, `alaw`, `slin` 8 kHz, `slin16`),
both ways; text messages are control events and commands (`control.py`).  Asterisk re-times
and re-frames what it gets (whole `optimal_frame_size` blocks: the server sends 20 ms ones,
`Pacing.packet_bytes`), `FLUSH_MEDIA` drops what it has queued (a barge-in), and
`MARK_MEDIA call-end` after the bot's last audio comes back as `MEDIA_MARK_PROCESSED` once it
reaches the caller.  Malformed input (oversized, odd-length linear audio, a control message
that is neither JSON nor an event line, a bad digit, a second MEDIA_START) is a StreamError.
"""

from __future__ import annotations

from loguru import logger
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import alaw_to_pcm, create_stream_resampler, pcm_to_alaw, pcm_to_ulaw, ulaw_to_pcm
from pipecat.frames.frames import AudioRawFrame, EndFrame, Frame, InputDTMFFrame, InterruptionFrame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer

from telephony.carriers.asterisk.control import command, parse_control
from telephony.carriers.batching import INPUT_FRAME_MS, InputBatcher
from telephony.carriers.errors import BAD_MEDIA, BAD_MESSAGE, StreamError, check_size
from telephony.carriers.media_events import END_MARK, check_digit

#: Asterisk format -> (encoding, sample rate)
FORMATS = {"ulaw": ("mulaw", 8000), "alaw": ("alaw", 8000), "slin": ("pcm_s16le", 8000),
           "slin16": ("pcm_s16le", 16000)}


class AsteriskWebSocketSerializer(FrameSerializer):
    end_mark = END_MARK

    def __init__(self, fmt: str, *, json_control: bool, max_frame_bytes: int,
                 input_frame_ms: int = INPUT_FRAME_MS):
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        super().__init__()
        self.encoding, self.rate = FORMATS[fmt]
        self.json_control, self.max_frame_bytes = json_control, max_frame_bytes
        self.paused = False  # MEDIA_XOFF seen: Asterisk's queue is nearly full
        self._sample_rate = 0
        self._input_resampler = create_stream_resampler()
        self._output_resampler = create_stream_resampler()
        self._batcher = InputBatcher(input_frame_ms)

    async def setup(self, setup: FrameProcessorSetup):
        self._sample_rate = setup.audio_in_sample_rate

    def is_end_mark(self, data: str | bytes) -> bool:
        if not isinstance(data, str):
            return False
        try:
            event, _ = parse_control(data)
        except StreamError:
            return False
        return event["event"] == "MEDIA_MARK_PROCESSED" and event.get("correlation_id") == END_MARK

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, InterruptionFrame):
            return command("FLUSH_MEDIA", self.json_control)
        if isinstance(frame, EndFrame):
            return command("MARK_MEDIA", self.json_control, END_MARK)
        if isinstance(frame, AudioRawFrame):
            return await self._encode(frame.audio, frame.sample_rate) or None
        return None

    async def _encode(self, pcm: bytes, rate: int) -> bytes:
        if self.encoding == "mulaw":
            return await pcm_to_ulaw(pcm, rate, self.rate, self._output_resampler)
        if self.encoding == "alaw":
            return await pcm_to_alaw(pcm, rate, self.rate, self._output_resampler)
        return await self._output_resampler.resample(pcm, rate, self.rate) if rate != self.rate else pcm

    async def deserialize(self, data: str | bytes) -> Frame | None:
        check_size(data, self.max_frame_bytes)
        if isinstance(data, bytes):
            return await self._audio(data)
        event, _ = parse_control(data)
        name = event["event"]
        if name == "DTMF_END":
            return InputDTMFFrame(KeypadEntry(check_digit(event.get("digit"))))
        if name == "MEDIA_START":
            raise StreamError(BAD_MESSAGE, "unexpected second MEDIA_START")
        if name in ("MEDIA_XOFF", "MEDIA_XON"):
            self.paused = name == "MEDIA_XOFF"
            logger.warning(f"Asterisk {name}: its media queue is {'full' if self.paused else 'draining'}")
        return None  # MEDIA_MARK_PROCESSED (read by the transport), STATUS, QUEUE_DRAINED...

    async def _audio(self, data: bytes) -> Frame | None:
        if not data:
            return None
        if self.encoding == "pcm_s16le":
            if len(data) % 2:
                raise StreamError(BAD_MEDIA, f"audio frame of {len(data)} bytes: 16-bit linear audio "
                                             "needs an even number of bytes")
            pcm = data if self.rate == self._sample_rate else \
                await self._input_resampler.resample(data, self.rate, self._sample_rate)
        else:
            convert = ulaw_to_pcm if self.encoding == "mulaw" else alaw_to_pcm
            pcm = await convert(data, self.rate, self._sample_rate, self._input_resampler)
        return self._batcher.add(pcm, self._sample_rate) if pcm else None

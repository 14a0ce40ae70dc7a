"""The raw PCM protocol on /media/pcm: a token, then a JSON start naming the call and its rate."""

from __future__ import annotations

import time

from telephony.carriers.base import Carrier, Limits
from telephony.carriers.errors import BAD_MEDIA, BAD_MESSAGE, StreamError, parse_event
from telephony.carriers.pcm.serializer import STREAM_RATES, PcmFrameSerializer
from telephony.carriers.stream_start import MessageSocket, StreamStart, call_options, next_text

PCM_ENCODINGS = {"pcm_s16le", "s16le", "linear16", "l16"}  # little-endian, as mod_audio_stream sends


class PcmCarrier(Carrier):
    name = "pcm"

    async def read_start(self, socket: MessageSocket, limits: Limits) -> StreamStart:
        """The first message: `{"event": "start", "account": ..., "sample_rate": ...}`."""
        message = parse_event(await next_text(socket, limits.max_frame_bytes,
                                              time.monotonic() + limits.start_timeout_s, "start message"))
        if message["event"] != "start":
            raise StreamError(BAD_MESSAGE, f"first message is {message['event']!r}, expected 'start'")
        encoding = str(message.get("encoding", "pcm_s16le")).lower()
        rate, channels = message.get("sample_rate", 8000), message.get("channels", 1)
        if encoding not in PCM_ENCODINGS or rate not in STREAM_RATES or channels != 1:
            raise StreamError(BAD_MEDIA, f"unsupported audio {encoding} {rate} Hz x{channels}: expected "
                                         "pcm_s16le mono at 8000 or 16000 Hz")
        call_id = message.get("call_id")
        return call_options(self.name, message, rate, call_id=call_id if isinstance(call_id, str) else None)

    def serializer(self, start: StreamStart, limits: Limits) -> PcmFrameSerializer:
        params = PcmFrameSerializer.InputParams(stream_sample_rate=start.sample_rate,
                                                max_frame_bytes=limits.max_frame_bytes)
        return PcmFrameSerializer(params)

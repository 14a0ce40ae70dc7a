"""pipecat's Vonage WebSocket serializer, as strict as the Twilio route.

The Voice API's WebSocket carries the caller's audio as *binary* 16-bit little-endian linear
PCM (8 or 16 kHz) and JSON text events (`websocket:dtmf`, `websocket:notify`,
`websocket:cleared`); it takes binary audio back, exactly 20 ms per message (the server cuts it
so: `Pacing.packet_bytes`), `{"action": "clear"}` on a barge-in, and `{"action": "notify"}`,
which Vonage echoes as `websocket:notify` once the audio before it has played.
pipecat's VonageFrameSerializer converts the rates; this subclass refuses what is malformed
(StreamError: oversized, odd-length audio, text that is not a JSON event, a bad digit) and
batches audio 40 ms at a time.
"""

from __future__ import annotations

import json

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import EndFrame, Frame, InputDTMFFrame
from pipecat.serializers.vonage import VonageFrameSerializer

from telephony.carriers.batching import INPUT_FRAME_MS, InputBatcher
from telephony.carriers.carrier_input import CarrierInput
from telephony.carriers.errors import BAD_MEDIA, BAD_MESSAGE, StreamError, check_size, member, parse_event
from telephony.carriers.media_events import END_MARK, check_digit, json_event


class StrictVonageSerializer(CarrierInput, VonageFrameSerializer):
    end_mark = END_MARK

    def __init__(self, sample_rate: int, *, max_frame_bytes: int, input_frame_ms: int = INPUT_FRAME_MS):
        params = VonageFrameSerializer.InputParams(vonage_sample_rate=sample_rate)
        super().__init__(params)
        self.read_input_with(params, params.vonage_sample_rate)
        self.max_frame_bytes = max_frame_bytes
        self._batcher = InputBatcher(input_frame_ms)

    def is_end_mark(self, data: str | bytes) -> bool:
        event = json_event(data)
        return (event is not None and event.get("event") == "websocket:notify"
                and member(event, "payload").get("name") == END_MARK)

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, EndFrame):
            return json.dumps({"action": "notify", "payload": {"name": END_MARK}})
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        check_size(data, self.max_frame_bytes)
        if isinstance(data, bytes):
            if len(data) % 2:
                raise StreamError(BAD_MEDIA, f"audio frame of {len(data)} bytes: 16-bit PCM needs an even "
                                             "number of bytes")
            if not data:
                return None
            pcm = await self.input_resampler.resample(data, self.carrier_rate, self.pipeline_rate)
            return self._batcher.add(pcm, self.pipeline_rate) if pcm else None
        message = parse_event(data)
        event = message["event"]
        if event == "websocket:dtmf":
            digit = message.get("digit", member(message, "dtmf").get("digit"))
            return InputDTMFFrame(KeypadEntry(check_digit(digit)))
        if event == "websocket:connected":
            raise StreamError(BAD_MESSAGE, "unexpected 'websocket:connected': the stream has already started")
        return None  # websocket:notify (read by the transport), websocket:cleared, newer events

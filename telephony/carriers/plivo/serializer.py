"""pipecat's Plivo audio-stream serializer, as strict as the Twilio route.

Plivo sends a `start`, then JSON `media` events (base64 mu-law 8 kHz), `dtmf`, `playedStream`
(a checkpoint reached) and `clearedAudio`; it takes `playAudio`, `clearAudio` and `checkpoint`.
pipecat's PlivoFrameSerializer converts the audio; this subclass refuses what is malformed
(StreamError), batches audio 40 ms at a time, never hangs up by itself (the provider's job),
and sends a `checkpoint` after the bot's last audio: Plivo answers `playedStream` with its name
once everything before it has played.
"""

from __future__ import annotations

import json

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import ulaw_to_pcm
from pipecat.frames.frames import EndFrame, Frame, InputDTMFFrame
from pipecat.serializers.plivo import PlivoFrameSerializer

from telephony.carriers.batching import INPUT_FRAME_MS, InputBatcher
from telephony.carriers.carrier_input import CarrierInput
from telephony.carriers.errors import BAD_MESSAGE, StreamError, check_size, member, parse_event
from telephony.carriers.media_events import END_MARK, check_digit, decode_payload, json_event


class StrictPlivoSerializer(CarrierInput, PlivoFrameSerializer):
    end_mark = END_MARK

    def __init__(self, stream_id: str, call_id: str | None = None, *, max_frame_bytes: int,
                 input_frame_ms: int = INPUT_FRAME_MS):
        params = PlivoFrameSerializer.InputParams(auto_hang_up=False)
        super().__init__(stream_id, call_id, params=params)
        self.read_input_with(params, params.plivo_sample_rate)
        self._stream = stream_id
        self.max_frame_bytes = max_frame_bytes
        self._batcher = InputBatcher(input_frame_ms)

    def is_end_mark(self, data: str | bytes) -> bool:
        event = json_event(data)
        return event is not None and event.get("event") == "playedStream" and event.get("name") == END_MARK

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, EndFrame):
            return json.dumps({"event": "checkpoint", "streamId": self._stream, "name": END_MARK})
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        check_size(data, self.max_frame_bytes)
        if isinstance(data, bytes):
            raise StreamError(BAD_MESSAGE, "binary frame on a Plivo stream (expected JSON text)")
        message = parse_event(data)
        event = message["event"]
        if event == "media":
            media = member(message, "media")
            audio = decode_payload(media.get("payload"))
            if not audio or media.get("track", "inbound") != "inbound":
                return None
            pcm = await ulaw_to_pcm(audio, self.carrier_rate, self.pipeline_rate, self.input_resampler)
            return self._batcher.add(pcm, self.pipeline_rate)
        if event == "dtmf":
            return InputDTMFFrame(KeypadEntry(check_digit(member(message, "dtmf").get("digit"))))
        if event == "start":
            raise StreamError(BAD_MESSAGE, "unexpected 'start' event: the stream has already started")
        return None  # playedStream (read by the transport), clearedAudio, and newer events

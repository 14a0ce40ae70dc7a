"""pipecat's Twilio Media Streams serializer, made strict enough to face the open internet.

pipecat's TwilioFrameSerializer logs and skips what it cannot parse; on a public endpoint a
peer sending garbage should instead lose *its* stream with a reason it can read.  This subclass
raises StreamError for oversized, non-JSON or non-base64 input (the server turns that into a
4400-range close), keeps Twilio's own events (mark echoes, stop) out of the pipeline, and ends
the bot's side of a call with a `mark` after the last audio: Twilio echoes a mark once all
audio sent before it has played, so the server can close without cutting the last words off.
Audio enters the pipeline 40 ms at a time (`telephony.carriers.batching`).
"""

from __future__ import annotations

import json

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import ulaw_to_pcm
from pipecat.frames.frames import EndFrame, Frame, InputDTMFFrame
from pipecat.serializers.twilio import TwilioFrameSerializer

from telephony.carriers.batching import INPUT_FRAME_MS, InputBatcher
from telephony.carriers.carrier_input import CarrierInput
from telephony.carriers.errors import BAD_MESSAGE, StreamError, check_size, member, parse_event
from telephony.carriers.media_events import END_MARK, check_digit, decode_payload, json_event


class StrictTwilioSerializer(CarrierInput, TwilioFrameSerializer):
    """TwilioFrameSerializer that refuses malformed input and marks the end of the bot's audio."""

    end_mark = END_MARK

    def __init__(self, stream_sid: str, call_sid: str | None = None, *, max_frame_bytes: int,
                 params: TwilioFrameSerializer.InputParams | None = None,
                 input_frame_ms: int = INPUT_FRAME_MS):
        # Hanging up through Twilio's REST API is the provider's job (rest.py), so the
        # serializer never needs Twilio credentials.
        params = params or TwilioFrameSerializer.InputParams()
        params.auto_hang_up = False
        super().__init__(stream_sid, call_sid, params=params)
        self.read_input_with(params, params.twilio_sample_rate)
        self._sid = stream_sid
        self.max_frame_bytes = max_frame_bytes
        self.marks_played: list[str] = []
        self._batcher = InputBatcher(input_frame_ms)

    @property
    def stream_sid(self) -> str:
        return self._sid

    def is_end_mark(self, data: str | bytes) -> bool:
        event = json_event(data)
        return event is not None and event.get("event") == "mark" and member(event, "mark").get("name") == END_MARK

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, EndFrame):
            return json.dumps({"event": "mark", "streamSid": self._sid, "mark": {"name": END_MARK}})
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        check_size(data, self.max_frame_bytes)
        if isinstance(data, bytes):
            raise StreamError(BAD_MESSAGE, "binary frame on a Twilio stream (expected JSON text)")
        message = parse_event(data)
        event = message["event"]
        if event == "media":
            ulaw = decode_payload(member(message, "media").get("payload"))
            if not ulaw:
                return None
            pcm = await ulaw_to_pcm(ulaw, self.carrier_rate, self.pipeline_rate, self.input_resampler)
            return self._batcher.add(pcm, self.pipeline_rate)
        if event == "dtmf":
            return InputDTMFFrame(KeypadEntry(check_digit(member(message, "dtmf").get("digit"))))
        if event == "mark":
            name = member(message, "mark").get("name")
            if isinstance(name, str):
                self.marks_played.append(name)
            return None
        if event in ("start", "connected"):
            raise StreamError(BAD_MESSAGE, f"unexpected {event!r} event: the stream has already started")
        return None  # stop (the socket closes next) and events newer than this code

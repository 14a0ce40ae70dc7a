"""pipecat's Telnyx media-streaming serializer, as strict as the Twilio route.

Telnyx sends `connected`, `start`, then JSON `media` events with base64 RTP payloads (PCMU or
PCMA at 8 kHz), `dtmf`, `mark` echoes, `error` and `stop`; it takes `media`, `clear` and `mark`
back.  pipecat's TelnyxFrameSerializer converts the audio; this subclass refuses what is
malformed (StreamError: oversized, not JSON, not base64, a bad digit, a second start), hears
only the caller's (`inbound`) track, batches audio 40 ms at a time, never hangs up by itself
(that is the provider's job), and sends a `mark` after the bot's last audio, which Telnyx
echoes once everything before it has played.
"""

from __future__ import annotations

import json

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import alaw_to_pcm, ulaw_to_pcm
from pipecat.frames.frames import EndFrame, Frame, InputDTMFFrame
from pipecat.serializers.telnyx import TelnyxFrameSerializer

from telephony.carriers.batching import INPUT_FRAME_MS, InputBatcher
from telephony.carriers.carrier_input import CarrierInput
from telephony.carriers.errors import BAD_MESSAGE, StreamError, check_size, member, parse_event
from telephony.carriers.media_events import END_MARK, check_digit, decode_payload, json_event

ENCODINGS = ("PCMU", "PCMA")  # what pipecat converts; Telnyx's RTP payloads at 8 kHz


class StrictTelnyxSerializer(CarrierInput, TelnyxFrameSerializer):
    end_mark = END_MARK

    def __init__(self, stream_id: str, encoding: str, call_control_id: str | None = None, *,
                 max_frame_bytes: int, input_frame_ms: int = INPUT_FRAME_MS):
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}")
        params = TelnyxFrameSerializer.InputParams(auto_hang_up=False)
        super().__init__(stream_id, encoding, encoding, call_control_id, params=params)
        self.read_input_with(params, params.telnyx_sample_rate)
        self.max_frame_bytes = max_frame_bytes
        self._to_pcm = ulaw_to_pcm if encoding == "PCMU" else alaw_to_pcm
        self._batcher = InputBatcher(input_frame_ms)

    def is_end_mark(self, data: str | bytes) -> bool:
        event = json_event(data)
        return event is not None and event.get("event") == "mark" and member(event, "mark").get("name") == END_MARK

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, EndFrame):
            return json.dumps({"event": "mark", "mark": {"name": END_MARK}})
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        check_size(data, self.max_frame_bytes)
        if isinstance(data, bytes):
            raise StreamError(BAD_MESSAGE, "binary frame on a Telnyx stream (expected JSON text)")
        message = parse_event(data)
        event = message["event"]
        if event == "media":
            media = member(message, "media")
            audio = decode_payload(media.get("payload"))
            if not audio or media.get("track", "inbound") != "inbound":  # the bot's own echo: not heard
                return None
            pcm = await self._to_pcm(audio, self.carrier_rate, self.pipeline_rate, self.input_resampler)
            return self._batcher.add(pcm, self.pipeline_rate)
        if event == "dtmf":
            return InputDTMFFrame(KeypadEntry(check_digit(member(message, "dtmf").get("digit"))))
        if event in ("start", "connected"):
            raise StreamError(BAD_MESSAGE, f"unexpected {event!r} event: the stream has already started")
        return None  # mark echoes (read by the transport), error, stop, and newer events

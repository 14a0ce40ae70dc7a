"""pipecat's Twilio Media Streams serializer, made strict enough to face the open internet.

pipecat's TwilioFrameSerializer logs and skips what it cannot parse; on a public endpoint a
peer sending garbage should instead lose *its* stream with a reason it can read.  This subclass
raises StreamError for oversized, non-JSON or non-base64 input (the server turns that into a
4400-range close), keeps Twilio's own events (mark echoes, stop) out of the pipeline, and ends
the bot's side of a call with a `mark` after the last audio: Twilio echoes a mark once all
audio sent before it has played, so the server can close without cutting the last words off.

Twilio sends 20 ms of audio per message. Each input frame then travels through every
processor of the call's pipeline, and at 40 calls that per-frame cost, not the models, was what
a server's event loop spent most of its time on (docs/performance.md). So audio goes into the
pipeline `input_frame_ms` (40) at a time: half the frames, for 20 ms more delay on the VAD.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

from pipecat.audio.utils import ulaw_to_pcm
from pipecat.frames.frames import EndFrame, Frame, InputAudioRawFrame
from pipecat.serializers.twilio import TwilioFrameSerializer

from voicebot.server.errors import BAD_MEDIA, BAD_MESSAGE, StreamError, check_size, parse_event

END_MARK = "call-end"
#: Audio per pipeline input frame: two Twilio messages (VOICEBOT_INPUT_FRAME_MS=20: one each).
INPUT_FRAME_MS = int(os.environ.get("VOICEBOT_INPUT_FRAME_MS") or 40)


class StrictTwilioSerializer(TwilioFrameSerializer):
    """TwilioFrameSerializer that refuses malformed input and marks the end of the bot's audio."""

    def __init__(self, stream_sid: str, call_sid: str | None = None, *, max_frame_bytes: int,
                 params: TwilioFrameSerializer.InputParams | None = None,
                 input_frame_ms: int = INPUT_FRAME_MS):
        # Hanging up through Twilio's REST API is the provider's job (telephony.providers), so
        # the serializer never needs Twilio credentials.
        params = params or TwilioFrameSerializer.InputParams()
        params.auto_hang_up = False
        super().__init__(stream_sid, call_sid, params=params)
        self.max_frame_bytes = max_frame_bytes
        self.marks_played: list[str] = []
        self._input_frame_ms = input_frame_ms
        self._pending = bytearray()  # decoded audio not yet a whole input frame

    @property
    def stream_sid(self) -> str:
        return self._stream_sid

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, EndFrame):
            return json.dumps({"event": "mark", "streamSid": self._stream_sid, "mark": {"name": END_MARK}})
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        check_size(data, self.max_frame_bytes)
        if isinstance(data, bytes):
            raise StreamError(BAD_MESSAGE, "binary frame on a Twilio stream (expected JSON text)")
        message = parse_event(data)
        event = message["event"]
        if event == "media":
            return await self._media(message)
        if event == "dtmf":
            digit = (message.get("dtmf") or {}).get("digit")
            if not isinstance(digit, str) or len(digit) != 1 or digit not in "0123456789*#":
                raise StreamError(BAD_MESSAGE, f"dtmf event with an invalid digit {digit!r}")
            return await super().deserialize(data)
        if event == "mark":
            name = (message.get("mark") or {}).get("name")
            if isinstance(name, str):
                self.marks_played.append(name)
            return None
        if event in ("start", "connected"):
            raise StreamError(BAD_MESSAGE, f"unexpected {event!r} event: the stream has already started")
        return None  # stop (the socket closes next) and events newer than this code

    async def _media(self, message: dict) -> Frame | None:
        media = message.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str):
            raise StreamError(BAD_MESSAGE, "media event without a media.payload string")
        try:
            ulaw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise StreamError(BAD_MEDIA, "media payload is not base64 (expected base64 mu-law audio)") from None
        if not ulaw:
            return None
        pcm = await ulaw_to_pcm(ulaw, self._twilio_sample_rate, self._sample_rate, self._input_resampler)
        self._pending += pcm
        if len(self._pending) < self._sample_rate * 2 * self._input_frame_ms // 1000:
            return None
        audio, self._pending = bytes(self._pending), bytearray()
        return InputAudioRawFrame(audio=audio, num_channels=1, sample_rate=self._sample_rate)

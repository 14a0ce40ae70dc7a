"""Twilio Media Streams on /media/twilio: who may connect, and what its start says.

Twilio cannot add query strings or headers of its own to a `<Stream>` URL, so its
X-Twilio-Signature (HMAC-SHA1 with the account's auth token over the URL it was told to
connect to) counts as proof, and a token may also arrive as the `token` custom parameter of the
start event.  The call is named in the start's `customParameters` (`<Parameter>` in the TwiML).
Its status callbacks come in on an HTTP route of its own (`status.py`).
"""

from __future__ import annotations

import time

from telephony.bus.base import Bus
from telephony.carriers.auth import Access, Handshake, signed_urls
from telephony.carriers.base import Carrier, Limits
from telephony.carriers.errors import (
    BAD_MEDIA, BAD_MESSAGE, BAD_START, UNAUTHORIZED, StreamError, member, parse_event,
)
from telephony.carriers.stream_start import MessageSocket, StreamStart, call_options, next_text
from telephony.carriers.twilio.serializer import StrictTwilioSerializer
from telephony.carriers.twilio.signature import signature_matches
from telephony.carriers.twilio.inbound import inbound_router
from telephony.carriers.twilio.status import status_router

MULAW = "audio/x-mulaw"


class TwilioCarrier(Carrier):
    name = "twilio"
    token_in_start = True
    auth_required = ("authentication required: X-Twilio-Signature or a token (?token=, "
                     "Authorization: Bearer, or a 'token' stream parameter)")

    def signature_ok(self, handshake: Handshake, access: Access) -> bool:
        signature = handshake.headers.get("x-twilio-signature")
        if signature is None:
            return False
        secret = access.secret(self.name)
        if secret and signature_matches(secret, signed_urls(handshake, access.public_url), signature):
            return True
        raise StreamError(UNAUTHORIZED, "invalid X-Twilio-Signature for this URL")

    async def read_start(self, socket: MessageSocket, limits: Limits) -> StreamStart:
        """Skip `connected`, parse `start`; Twilio always sends mu-law 8 kHz mono, refuse anything else."""
        deadline = time.monotonic() + limits.start_timeout_s
        while True:
            message = parse_event(await next_text(socket, limits.max_frame_bytes, deadline, "Twilio start event"))
            if message["event"] == "connected":
                continue
            if message["event"] != "start":
                raise StreamError(BAD_MESSAGE, f"{message['event']!r} event before the start event")
            break
        start = message.get("start")
        if not isinstance(start, dict):
            raise StreamError(BAD_MESSAGE, "start event without a 'start' object")
        stream_sid = start.get("streamSid") or message.get("streamSid")
        if not isinstance(stream_sid, str) or not stream_sid:
            raise StreamError(BAD_START, "start event without a streamSid")
        fmt = member(start, "mediaFormat")
        encoding, rate, channels = fmt.get("encoding", MULAW), fmt.get("sampleRate", 8000), fmt.get("channels", 1)
        if str(encoding).lower() != MULAW or rate != 8000 or channels != 1:
            raise StreamError(BAD_MEDIA, f"unsupported media format {encoding} {rate} Hz x{channels}: "
                                         f"expected {MULAW} 8000 Hz mono")
        params = start.get("customParameters") or {}
        if not isinstance(params, dict):
            raise StreamError(BAD_START, "customParameters must be an object")
        return call_options(self.name, params, 8000, call_id=start.get("callSid"), stream_id=stream_sid,
                            encoding="mulaw", extra={"twilio_account_sid": start.get("accountSid")})

    def routes(self, access: Access, bus: Bus | None = None):
        """Status callbacks (busy, no-answer, failed, completed) onto the live bus, and the voice
        webhook of a debtor calling back."""
        router = status_router(access, bus)
        router.include_router(inbound_router(access))
        return router

    def serializer(self, start: StreamStart, limits: Limits) -> StrictTwilioSerializer:
        return StrictTwilioSerializer(start.stream_id or "", start.call_id,
                                      max_frame_bytes=limits.max_frame_bytes,
                                      input_frame_ms=limits.input_frame_ms)

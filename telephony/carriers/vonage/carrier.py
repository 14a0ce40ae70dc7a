"""Vonage Voice API WebSockets on /media/vonage: who may connect, and what its start says.

An NCCO `connect` action with a `websocket` endpoint (`"uri": "wss://bot/media/vonage"`,
`"content-type": "audio/l16;rate=16000"`) opens the stream.  Proof: `"authorization":
{"type": "vonage"}` (a JWT signed with the signature secret, `carrier_secrets: {"vonage":
...}`), or `{"type": "custom", "value": "Bearer <token>"}`, or `?token=` in the URI.  The call
is named by the endpoint's `headers` (`{"account": "EN-LATE-1", "uuid": "<the call's uuid>"}`),
which Vonage sends as the fields of its first message; the query of the URI works too.
"""

from __future__ import annotations

import re
import time

from fastapi import APIRouter

from telephony.bus.base import Bus
from telephony.carriers.auth import Access, Handshake, bearer, presented_token, token_ok
from telephony.carriers.base import Carrier, Limits, Pacing
from telephony.carriers.errors import BAD_MEDIA, BAD_MESSAGE, UNAUTHORIZED, StreamError, parse_object
from telephony.carriers.stream_start import (
    MessageSocket, StreamStart, call_options, next_text, start_parameters,
)
from telephony.carriers.vonage.answer import answer_router
from telephony.carriers.vonage.serializer import StrictVonageSerializer
from telephony.carriers.vonage.signature import jwt_valid, looks_like_jwt

CONTENT_TYPE = re.compile(r"audio/l16\s*;\s*rate\s*=\s*(8000|16000)", re.IGNORECASE)
FRAME_MS = 20  # Vonage plays 20 ms per message


class VonageCarrier(Carrier):
    name = "vonage"
    auth_required = "authentication required: a Vonage-signed JWT (authorization type vonage) or a token"

    def authenticate(self, handshake: Handshake, access: Access) -> bool:
        token = bearer(handshake.headers)
        if token is not None and looks_like_jwt(token) and not token_ok(token, access.tokens):
            secret = access.secret(self.name)
            if secret and jwt_valid(token, secret):
                return True
            raise StreamError(UNAUTHORIZED, "invalid or expired Vonage JWT")
        token = presented_token(handshake)
        if token is None:
            return False
        if token_ok(token, access.tokens):
            return True
        raise StreamError(UNAUTHORIZED, "invalid token")

    async def read_start(self, socket: MessageSocket, limits: Limits) -> StreamStart:
        """The first message: `{"event": "websocket:connected", "content-type": ..., **headers}`
        (older releases leave out `event`)."""
        message = parse_object(await next_text(socket, limits.max_frame_bytes,
                                               time.monotonic() + limits.start_timeout_s,
                                               "Vonage websocket:connected message"))
        if message.get("event", "websocket:connected") != "websocket:connected":
            raise StreamError(BAD_MESSAGE, f"{str(message.get('event'))[:40]!r} before websocket:connected")
        content_type = message.get("content-type")
        match = CONTENT_TYPE.fullmatch(content_type.strip()) if isinstance(content_type, str) else None
        if match is None:
            raise StreamError(BAD_MEDIA, f"unsupported content-type {str(content_type)[:40]!r}: expected "
                                         "audio/l16;rate=8000 or audio/l16;rate=16000")
        params = {**start_parameters(socket.query_params), **start_parameters(message)}
        call_id = message.get("uuid", message.get("call_uuid"))
        return call_options(self.name, params, int(match.group(1)),
                            call_id=call_id if isinstance(call_id, str) else None, encoding="pcm_s16le")

    def routes(self, access: Access, bus: Bus | None = None) -> APIRouter:
        """The NCCO a placed call fetches when answered (`answer.py`)."""
        return answer_router(access)

    def serializer(self, start: StreamStart, limits: Limits) -> StrictVonageSerializer:
        return StrictVonageSerializer(start.sample_rate, max_frame_bytes=limits.max_frame_bytes,
                                      input_frame_ms=limits.input_frame_ms)

    def pacing(self, start: StreamStart) -> Pacing:
        return Pacing(packet_bytes=start.sample_rate * 2 * FRAME_MS // 1000)

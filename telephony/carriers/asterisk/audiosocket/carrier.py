"""Asterisk AudioSocket: a TCP listener (`audiosocket_port`), calls named by registered UUIDs.

    dialplan:  same => n,Set(ID=${UUID()})
               same => n,Set(R=${CURL(http://bot:8080/media/audiosocket/calls?token=T,uuid=${ID}&account=EN-LATE-1)})
               same => n,AudioSocket(${ID},bot:9092)

The listener (`connection.listen`) is started with the server when `audiosocket_port` is set;
each connection's first frame must be the UUID of a registration (`pending.py`), which says the
account, stage and attempt.  Audio is 16-bit 8 kHz both ways, 20 ms per frame; AudioSocket has
no playback buffer to clear on a barge-in, so the bot's audio is sent as it plays (no lead).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from telephony.bus.base import Bus
from telephony.carriers.asterisk.audiosocket import frames
from telephony.carriers.asterisk.audiosocket.pending import PendingCalls
from telephony.carriers.asterisk.audiosocket.serializer import AudioSocketSerializer
from telephony.carriers.auth import Access, bearer, token_ok
from telephony.carriers.base import Carrier, Limits, Pacing
from telephony.carriers.errors import BAD_MESSAGE, UNAUTHORIZED, StreamError
from telephony.carriers.stream_start import MessageSocket, StreamStart, call_options, next_message


class AudioSocketCarrier(Carrier):
    name = "audiosocket"
    websocket = False       # a TCP listener, not a /media/ route
    token_in_start = True   # its proof is its first frame: a registered UUID
    auth_required = "AudioSocket call without a registered UUID"

    def __init__(self, pending: PendingCalls | None = None):
        self.pending = pending or PendingCalls()

    async def read_start(self, socket: MessageSocket, limits: Limits) -> StreamStart:
        data = await next_message(socket, limits.max_frame_bytes, time.monotonic() + limits.start_timeout_s,
                                  "AudioSocket UUID frame")
        try:
            call_id = frames.decode(data if isinstance(data, bytes) else b"").call_id
        except frames.FrameError as exc:
            raise StreamError(BAD_MESSAGE, f"the first AudioSocket frame must be the call's UUID: {exc}") from None
        params = self.pending.claim(call_id)
        if params is None:
            raise StreamError(UNAUTHORIZED, f"AudioSocket call {call_id} was not registered (or has expired)")
        return call_options(self.name, params, frames.RATE, call_id=call_id, stream_id=call_id)

    async def open(self, socket: MessageSocket, access: Access, limits: Limits,
                   authed: bool) -> tuple[StreamStart, AudioSocketSerializer]:
        start = await self.read_start(socket, limits)
        return start, self.serializer(start, limits)

    def serializer(self, start: StreamStart, limits: Limits) -> AudioSocketSerializer:
        return AudioSocketSerializer(max_frame_bytes=limits.max_frame_bytes,
                                     input_frame_ms=limits.input_frame_ms)

    def pacing(self, start: StreamStart) -> Pacing:
        return Pacing(frame_ms=20, lead_s=0.0)  # one 20 ms frame per write, as it plays

    def routes(self, access: Access, bus: Bus | None = None) -> APIRouter:
        router = APIRouter()

        @router.post("/media/audiosocket/calls", include_in_schema=False)
        async def register(request: Request) -> JSONResponse:
            """Register a call about to connect over AudioSocket (JSON or form body, or query)."""
            if not token_ok(bearer(request.headers) or request.query_params.get("token"), access.tokens):
                return JSONResponse({"detail": "a valid token is required"}, status_code=401)
            params: dict[str, Any] = dict(request.query_params)
            if request.headers.get("content-type", "").startswith("application/json"):
                try:
                    body = await request.json()
                except ValueError:
                    return JSONResponse({"detail": "the body is not JSON"}, status_code=400)
                if not isinstance(body, dict):
                    return JSONResponse({"detail": "the body must be a JSON object"}, status_code=400)
                params.update(body)
            else:
                params.update(dict(await request.form()))
            try:
                call_id = self.pending.register(params, params.get("uuid"))
            except StreamError as exc:
                return JSONResponse({"detail": exc.reason}, status_code=422)
            return JSONResponse({"uuid": call_id, "expires_in_s": self.pending.ttl_s})

        return router

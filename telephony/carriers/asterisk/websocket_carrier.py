"""Asterisk's chan_websocket on /media/asterisk, as Asterisk really opens it.

    websocket_client.conf:  [voicebot] type=websocket_client  connection_type=per_call_config
                            uri=wss://bot.example.com/media/asterisk  protocols=media
                            username=asterisk  password=<a server token>
    dialplan:               Dial(WebSocket/voicebot/c(ulaw)v(account=EN-LATE-1,stage=late))

Proof: the password of the client's HTTP Basic auth, or a token in `v(token=...)`, a Bearer
header, checked against the server's tokens.  The first message is `MEDIA_START`, plain text
(`MEDIA_START connection_id:... channel:... format:ulaw optimal_frame_size:160`) or JSON
(`f(json)`); the call is named by the `v()` URI parameters, and in JSON also by channel
variables `VOICEBOT_ACCOUNT`, `VOICEBOT_STAGE`... (`Set(VOICEBOT_ACCOUNT=...)` before the Dial).
The channel id is the call id a hang-up or transfer through ARI would use.
"""

from __future__ import annotations

import time
from typing import Any

from telephony.carriers.asterisk.control import parse_control
from telephony.carriers.asterisk.websocket_serializer import FORMATS, AsteriskWebSocketSerializer
from telephony.carriers.auth import Access, Handshake, basic_password, presented_token, token_ok
from telephony.carriers.base import Carrier, Limits, Pacing
from telephony.carriers.errors import BAD_MEDIA, BAD_MESSAGE, UNAUTHORIZED, StreamError, member
from telephony.carriers.stream_start import (
    START_PARAMETERS, MessageSocket, StreamStart, call_options, next_text, start_parameters,
)

VARIABLE_PREFIX = "VOICEBOT_"


def channel_parameters(variables: dict[str, Any]) -> dict[str, Any]:
    """Start parameters set as channel variables: VOICEBOT_ACCOUNT -> account."""
    by_upper = {p.upper(): p for p in START_PARAMETERS}
    return {by_upper[k[len(VARIABLE_PREFIX):]]: v for k, v in variables.items()
            if k.startswith(VARIABLE_PREFIX) and k[len(VARIABLE_PREFIX):] in by_upper}


class AsteriskWebSocketCarrier(Carrier):
    name = "asterisk"
    auth_required = ("authentication required: websocket_client.conf username/password (the password "
                     "a token), v(token=...) or Authorization: Bearer")

    def authenticate(self, handshake: Handshake, access: Access) -> bool:
        token = basic_password(handshake.headers) or presented_token(handshake)
        if token is None:
            return False
        if token_ok(token, access.tokens):
            return True
        raise StreamError(UNAUTHORIZED, "invalid token")

    async def read_start(self, socket: MessageSocket, limits: Limits) -> StreamStart:
        text = await next_text(socket, limits.max_frame_bytes, time.monotonic() + limits.start_timeout_s,
                               "MEDIA_START")
        event, as_json = parse_control(text)
        if event["event"] != "MEDIA_START":
            raise StreamError(BAD_MESSAGE, f"first message is {event['event'][:40]!r}, expected MEDIA_START")
        fmt = str(event.get("format", ""))
        if fmt not in FORMATS:
            raise StreamError(BAD_MEDIA, f"unsupported format {fmt[:20]!r}: dial with c(ulaw), c(alaw), "
                                         "c(slin) or c(slin16)")
        frame = event.get("optimal_frame_size")
        if not str(frame).isdigit() or int(frame) <= 0:
            raise StreamError(BAD_MESSAGE, f"MEDIA_START with an invalid optimal_frame_size {str(frame)[:20]!r}")
        params = {**start_parameters(socket.query_params),
                  **start_parameters(channel_parameters(member(event, "channel_variables")))}
        channel_id = event.get("channel_id")
        return call_options(self.name, params, FORMATS[fmt][1],
                            call_id=channel_id if isinstance(channel_id, str) else None,
                            stream_id=str(event.get("connection_id") or "") or None, encoding=FORMATS[fmt][0],
                            extra={"asterisk_channel": event.get("channel"), "asterisk_format": fmt,
                                   "asterisk_frame_bytes": int(frame), "asterisk_json": as_json})

    def serializer(self, start: StreamStart, limits: Limits) -> AsteriskWebSocketSerializer:
        return AsteriskWebSocketSerializer(start.extra["asterisk_format"], json_control=start.extra["asterisk_json"],
                                           max_frame_bytes=limits.max_frame_bytes,
                                           input_frame_ms=limits.input_frame_ms)

    def pacing(self, start: StreamStart) -> Pacing:
        return Pacing(packet_bytes=start.extra["asterisk_frame_bytes"])

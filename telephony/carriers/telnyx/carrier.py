"""Telnyx media streaming on /media/telnyx: who may connect, and what its start says.

Telnyx connects to the `stream_url` given to Call Control (`dial`, `answer`,
`streaming_start`) or TeXML `<Stream>`.  Proof: the `stream_auth_token` configured there, which
Telnyx sends as the `x-telnyx-streaming-auth-token` header, set to one of the server's tokens
(or a token in the URL's query).  The call is named by the URL's query
(`wss://bot/media/telnyx?account=EN-LATE-1&stage=late`), the start's `custom_parameters`, or a
`client_state` that is base64 JSON (`{"account": ...}`), later ones overriding earlier ones.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from telephony.carriers.base import Carrier, Limits
from telephony.carriers.errors import BAD_MEDIA, BAD_MESSAGE, BAD_START, StreamError, member, parse_event
from telephony.carriers.stream_start import (
    MessageSocket, StreamStart, call_options, next_text, start_parameters,
)
from telephony.carriers.telnyx.serializer import ENCODINGS, StrictTelnyxSerializer

AUTH_HEADER = "x-telnyx-streaming-auth-token"


def client_state(value: object) -> dict[str, Any]:
    """Call Control's client_state, when it is base64 JSON naming the call; else nothing."""
    if not isinstance(value, str) or not value:
        return {}
    try:
        decoded = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return {}  # a client_state of the operator's own, not meant for us
    return decoded if isinstance(decoded, dict) else {}


class TelnyxCarrier(Carrier):
    name = "telnyx"
    token_header = AUTH_HEADER
    auth_required = f"authentication required: {AUTH_HEADER} (stream_auth_token) or a token"

    async def read_start(self, socket: MessageSocket, limits: Limits) -> StreamStart:
        deadline = time.monotonic() + limits.start_timeout_s
        while True:
            message = parse_event(await next_text(socket, limits.max_frame_bytes, deadline, "Telnyx start event"))
            if message["event"] == "connected":
                continue
            if message["event"] != "start":
                raise StreamError(BAD_MESSAGE, f"{message['event']!r} event before the start event")
            break
        start = member(message, "start")
        stream_id = message.get("stream_id") or start.get("stream_id")
        if not isinstance(stream_id, str) or not stream_id:
            raise StreamError(BAD_START, "start event without a stream_id")
        fmt = member(start, "media_format")
        encoding, rate, channels = fmt.get("encoding", "PCMU"), fmt.get("sample_rate", 8000), fmt.get("channels", 1)
        if encoding not in ENCODINGS or str(rate) != "8000" or str(channels) != "1":
            raise StreamError(BAD_MEDIA, f"unsupported media format {encoding} {rate} Hz x{channels}: "
                                         "expected PCMU or PCMA 8000 Hz mono")
        custom = start.get("custom_parameters") or {}
        if not isinstance(custom, dict):
            raise StreamError(BAD_START, "custom_parameters must be an object")
        params = {**start_parameters(socket.query_params), **start_parameters(client_state(start.get("client_state"))),
                  **start_parameters(custom)}
        call_id = start.get("call_control_id")
        return call_options(self.name, params, 8000, call_id=call_id if isinstance(call_id, str) else None,
                            stream_id=stream_id, encoding="mulaw" if encoding == "PCMU" else "alaw",
                            extra={"telnyx_encoding": encoding})

    def serializer(self, start: StreamStart, limits: Limits) -> StrictTelnyxSerializer:
        encoding = "PCMU" if start.encoding == "mulaw" else "PCMA"
        return StrictTelnyxSerializer(start.stream_id or "", encoding, start.call_id,
                                      max_frame_bytes=limits.max_frame_bytes,
                                      input_frame_ms=limits.input_frame_ms)

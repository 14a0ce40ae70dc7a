"""Plivo audio streams on /media/plivo: who may connect, and what its start says.

Plivo connects to the URL of the `<Stream bidirectional="true" keepCallAlive="true"
contentType="audio/x-mulaw;rate=8000">` element and signs the handshake with
X-Plivo-Signature-V3 (the account's auth token: `carrier_secrets: {"plivo": ...}`); a token in
the URL's query also proves it.  The call is named by the URL's query
(`wss://bot/media/plivo?account=EN-LATE-1`; Plivo's `extraHeaders` allow only letters and
digits, so account ids with a dash cannot go there) and by the start's `extra_headers`
(`stage=late,attempt=2`), which override it.
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter

from telephony.bus.base import Bus
from telephony.carriers.auth import Access, Handshake, signed_urls
from telephony.carriers.base import Carrier, Limits
from telephony.carriers.errors import (
    BAD_MEDIA, BAD_MESSAGE, BAD_START, UNAUTHORIZED, StreamError, member, parse_event,
)
from telephony.carriers.plivo.answer import answer_router
from telephony.carriers.plivo.serializer import StrictPlivoSerializer
from telephony.carriers.plivo.signature import signature_matches
from telephony.carriers.stream_start import (
    MessageSocket, StreamStart, call_options, next_text, start_parameters,
)

MULAW = "audio/x-mulaw"
PAIR = re.compile(r"\s*([^=;,\s]+)\s*=\s*([^;,]*)")


def extra_headers(value: object) -> dict[str, Any]:
    """`k=v,k=v` (as written in the XML) or `k=v;k=v` (as some starts carry it)."""
    if not isinstance(value, str):
        return {}
    return {m.group(1): m.group(2).strip() for m in PAIR.finditer(value)}


class PlivoCarrier(Carrier):
    name = "plivo"
    auth_required = "authentication required: X-Plivo-Signature-V3 or a token (?token=)"

    def signature_ok(self, handshake: Handshake, access: Access) -> bool:
        header = handshake.headers.get("x-plivo-signature-v3")
        if header is None:
            return False
        nonce, secret = handshake.headers.get("x-plivo-signature-v3-nonce"), access.secret(self.name)
        if secret and signature_matches(secret, signed_urls(handshake, access.public_url), nonce, header):
            return True
        raise StreamError(UNAUTHORIZED, "invalid X-Plivo-Signature-V3 for this URL")

    async def read_start(self, socket: MessageSocket, limits: Limits) -> StreamStart:
        message = parse_event(await next_text(socket, limits.max_frame_bytes,
                                              time.monotonic() + limits.start_timeout_s, "Plivo start event"))
        if message["event"] != "start":
            raise StreamError(BAD_MESSAGE, f"{message['event']!r} event before the start event")
        start = member(message, "start")
        stream_id = start.get("streamId") or message.get("streamId")
        if not isinstance(stream_id, str) or not stream_id:
            raise StreamError(BAD_START, "start event without a streamId")
        fmt = member(start, "mediaFormat")
        encoding, rate = str(fmt.get("encoding", MULAW)).lower(), fmt.get("sampleRate", 8000)
        if encoding != MULAW or str(rate) != "8000":
            raise StreamError(BAD_MEDIA, f"unsupported media format {encoding} {rate} Hz: expected {MULAW} "
                                         "8000 Hz (contentType=\"audio/x-mulaw;rate=8000\")")
        params = {**start_parameters(socket.query_params),
                  **start_parameters(extra_headers(message.get("extra_headers")))}
        call_id = start.get("callId")
        return call_options(self.name, params, 8000, call_id=call_id if isinstance(call_id, str) else None,
                            stream_id=stream_id, encoding="mulaw",
                            extra={"plivo_account_id": start.get("accountId")})

    def routes(self, access: Access, bus: Bus | None = None) -> APIRouter:
        """The XML a call fetches when answered and when transferred (`answer.py`)."""
        return answer_router(access)

    def serializer(self, start: StreamStart, limits: Limits) -> StrictPlivoSerializer:
        return StrictPlivoSerializer(start.stream_id or "", start.call_id, max_frame_bytes=limits.max_frame_bytes,
                                     input_frame_ms=limits.input_frame_ms)

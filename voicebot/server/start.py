"""The opening of a stream, read before any pipeline exists: which call is this?

Both protocols name the call in their first text message(s): Twilio in the `start` event's
`customParameters` (set with `<Parameter>` in the TwiML), the raw PCM protocol in its own
`start` message.  Reading them here, with a deadline and the frame limit, means a stream that
names no account, an unknown one, or audio the server cannot decode is refused before a
recogniser, a voice or a call record is spent on it.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

from voicebot.audio.amd.decision import parse_answered_by
from voicebot.server.errors import (
    BAD_MEDIA, BAD_MESSAGE, BAD_START, TIMED_OUT, StreamError, check_size, parse_event,
)

MULAW = "audio/x-mulaw"
PCM_ENCODINGS = {"pcm_s16le", "s16le", "linear16", "l16"}  # little-endian, as mod_audio_stream sends
PCM_RATES = (8000, 16000)
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")


class PeerGone(Exception):
    """The peer closed the socket before the call started: nothing to refuse, nothing to record."""


@dataclass
class StreamStart:
    carrier: str                 # "twilio" | "pcm"
    account_id: str
    sample_rate: int             # the carrier's audio rate
    stage: str | None = None
    attempt: int = 1
    locale: str | None = None
    call_id: str | None = None   # the carrier's call id (Twilio CallSid), used to transfer/hang up
    stream_id: str | None = None
    token: str | None = None     # a token sent inside the start (Twilio's `token` parameter)
    amd: bool = False            # detect an answering machine before the script (outbound calls)
    answered_by: str | None = None  # the carrier's own verdict (Twilio AnsweredBy); implies amd
    extra: dict[str, Any] = field(default_factory=dict)


async def next_text(websocket: WebSocket, max_bytes: int, deadline: float, waiting_for: str) -> str:
    """The next message, which must be text, within the deadline and the frame limit."""
    try:
        message = await asyncio.wait_for(websocket.receive(), max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        raise StreamError(TIMED_OUT, f"no {waiting_for} within the time allowed") from None
    if message["type"] == "websocket.disconnect":
        raise PeerGone()
    data = message.get("text") if message.get("text") is not None else message.get("bytes") or b""
    check_size(data, max_bytes)
    if isinstance(data, bytes):
        raise StreamError(BAD_MESSAGE, f"binary frame before the {waiting_for} (expected JSON text)")
    return data


def call_options(carrier: str, params: dict[str, Any], sample_rate: int, **ids: Any) -> StreamStart:
    """Account, stage, attempt and locale from the start's parameters, checked."""
    account = params.get("account")
    if not isinstance(account, str) or not account.strip():
        raise StreamError(BAD_START, "start event without an 'account' parameter naming the account")
    try:
        attempt = int(params.get("attempt", 1))
    except (TypeError, ValueError):
        raise StreamError(BAD_START, f"attempt must be a whole number, got {params.get('attempt')!r}") from None
    if attempt < 1:
        raise StreamError(BAD_START, "attempt must be 1 or more")
    text = {k: params.get(k) for k in ("stage", "locale", "token")}
    for name, value in text.items():
        if value is not None and not isinstance(value, str):
            raise StreamError(BAD_START, f"{name} must be a string")
    for name in ("stage", "locale"):  # they name folders and files: nothing path-like
        if text[name] and not NAME.fullmatch(text[name]):
            raise StreamError(BAD_START, f"{name} {text[name][:40]!r} is not a valid name")
    amd = params.get("amd", False)
    if isinstance(amd, str):
        amd = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False,
               "no": False, "off": False, "": False}.get(amd.strip().lower(), amd)
    if not isinstance(amd, bool):
        raise StreamError(BAD_START, f"amd must be true or false, got {str(amd)[:20]!r}")
    try:
        answered_by = parse_answered_by(params.get("AnsweredBy", params.get("answered_by")))
    except ValueError as exc:
        raise StreamError(BAD_START, str(exc)) from None
    return StreamStart(carrier, account.strip(), sample_rate, text["stage"] or None, attempt,
                       text["locale"] or None, token=text["token"], amd=amd or answered_by is not None,
                       answered_by=answered_by, **ids)


async def read_twilio_start(websocket: WebSocket, max_bytes: int, timeout_s: float) -> StreamStart:
    """Skip `connected`, parse `start`; Twilio always sends mu-law 8 kHz mono, refuse anything else."""
    deadline = time.monotonic() + timeout_s
    while True:
        message = parse_event(await next_text(websocket, max_bytes, deadline, "Twilio start event"))
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
    fmt = start.get("mediaFormat") or {}
    encoding, rate, channels = fmt.get("encoding", MULAW), fmt.get("sampleRate", 8000), fmt.get("channels", 1)
    if str(encoding).lower() != MULAW or rate != 8000 or channels != 1:
        raise StreamError(BAD_MEDIA, f"unsupported media format {encoding} {rate} Hz x{channels}: "
                                     f"expected {MULAW} 8000 Hz mono")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise StreamError(BAD_START, "customParameters must be an object")
    return call_options("twilio", params, 8000, call_id=start.get("callSid"), stream_id=stream_sid,
                        extra={"twilio_account_sid": start.get("accountSid")})


async def read_pcm_start(websocket: WebSocket, max_bytes: int, timeout_s: float) -> StreamStart:
    """The PCM protocol's first message: `{"event": "start", "account": ..., "sample_rate": ...}`."""
    message = parse_event(await next_text(websocket, max_bytes, time.monotonic() + timeout_s,
                                          "start message"))
    if message["event"] != "start":
        raise StreamError(BAD_MESSAGE, f"first message is {message['event']!r}, expected 'start'")
    encoding = str(message.get("encoding", "pcm_s16le")).lower()
    rate, channels = message.get("sample_rate", 8000), message.get("channels", 1)
    if encoding not in PCM_ENCODINGS or rate not in PCM_RATES or channels != 1:
        raise StreamError(BAD_MEDIA, f"unsupported audio {encoding} {rate} Hz x{channels}: expected "
                                     "pcm_s16le mono at 8000 or 16000 Hz")
    call_id = message.get("call_id")
    return call_options("pcm", message, rate, call_id=call_id if isinstance(call_id, str) else None)

"""The opening of a stream, read before any pipeline exists: which call is this?

Every carrier names the call in its first text message(s) or its URL: Twilio in the `start`
event's `customParameters`, Telnyx in `custom_parameters` or the stream URL's query, Plivo in
`extra_headers`, Vonage in the NCCO's `headers`, Asterisk in the dial string's `v()` URI
parameters.  Each carrier's folder turns its own opening into a `StreamStart`; the checks on
what the parameters say (an account, a valid stage and locale, an attempt number, AMD) are
shared here, so a stream that names no account, an unknown one, or audio the server cannot
decode is refused before a recogniser, a voice or a call record is spent on it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from dialogue.phones import PhoneError, to_e164
from telephony.carriers.answered_by import parse_answered_by
from telephony.carriers.errors import BAD_MESSAGE, BAD_START, TIMED_OUT, StreamError, check_size

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
START_PARAMETERS = ("account", "stage", "attempt", "locale", "token", "amd", "AnsweredBy", "answered_by",
                    "direction", "caller")
DIRECTIONS = ("outbound", "inbound")
TRUE_WORDS = {"true": True, "1": True, "yes": True, "on": True,
              "false": False, "0": False, "no": False, "off": False, "": False}


class PeerGone(Exception):
    """The peer closed the socket before the call started: nothing to refuse, nothing to record."""


class MessageSocket(Protocol):
    """What reading a start needs of a socket: Starlette's WebSocket, or a TCP stream made to
    look like one (AudioSocket)."""

    @property
    def query_params(self) -> Mapping[str, str]: ...

    async def receive(self) -> Mapping[str, Any]: ...


@dataclass
class StreamStart:
    carrier: str                 # the carrier's registry name: "twilio", "telnyx", "pcm"...
    account_id: str
    sample_rate: int             # the carrier's audio rate
    stage: str | None = None
    attempt: int = 1
    locale: str | None = None
    call_id: str | None = None   # the carrier's call id (CallSid, call_control_id...): transfer/hang up
    stream_id: str | None = None
    token: str | None = None     # a token sent inside the start (Twilio's `token` parameter)
    amd: bool = False            # detect an answering machine before the script (outbound calls)
    answered_by: str | None = None  # the carrier's own verdict (Twilio AnsweredBy); implies amd
    encoding: str = "pcm_s16le"  # the carrier's audio encoding (mulaw, alaw, pcm_s16le)
    direction: str = "outbound"  # "inbound": the debtor called us (a callback)
    caller: str | None = None    # inbound: the caller's number, E.164; finds the account(s)
    extra: dict[str, Any] = field(default_factory=dict)


async def next_message(websocket: MessageSocket, max_bytes: int, deadline: float,
                       waiting_for: str) -> str | bytes:
    """The next message, within the deadline and the frame limit."""
    try:
        message = await asyncio.wait_for(websocket.receive(), max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        raise StreamError(TIMED_OUT, f"no {waiting_for} within the time allowed") from None
    if message["type"] == "websocket.disconnect":
        raise PeerGone()
    data = message.get("text") if message.get("text") is not None else message.get("bytes") or b""
    check_size(data, max_bytes)
    return data


async def next_text(websocket: MessageSocket, max_bytes: int, deadline: float, waiting_for: str) -> str:
    """The next message, which must be text, within the deadline and the frame limit."""
    data = await next_message(websocket, max_bytes, deadline, waiting_for)
    if isinstance(data, bytes):
        raise StreamError(BAD_MESSAGE, f"binary frame before the {waiting_for} (expected text)")
    return data


def start_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """Only the parameters a start may set (a carrier's own headers are kept out)."""
    return {k: v for k, v in params.items() if k in START_PARAMETERS}


def call_options(carrier: str, params: Mapping[str, Any], sample_rate: int, **ids: Any) -> StreamStart:
    """Account, stage, attempt and locale from the start's parameters, checked.  A call in
    (`direction=inbound`) may name its caller's number instead of an account."""
    direction = str(params.get("direction") or "outbound").strip().lower()
    if direction not in DIRECTIONS:
        raise StreamError(BAD_START, f"direction must be outbound or inbound, got {direction[:20]!r}")
    caller = _caller(params.get("caller")) if direction == "inbound" else None
    account = params.get("account")
    if direction == "inbound" and not account:
        account = ""  # the server finds it from the caller's number (none withheld: 4404 there)
    elif not isinstance(account, str) or not account.strip():
        raise StreamError(BAD_START, "start event without an 'account' parameter naming the account"
                                     + (" (or, inbound, a 'caller' number)" if direction == "inbound" else ""))
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
        amd = TRUE_WORDS.get(amd.strip().lower(), amd)
    if not isinstance(amd, bool):
        raise StreamError(BAD_START, f"amd must be true or false, got {str(amd)[:20]!r}")
    try:
        answered_by = parse_answered_by(params.get("AnsweredBy", params.get("answered_by")))
    except ValueError as exc:
        raise StreamError(BAD_START, str(exc)) from None
    if direction == "inbound" and (amd or answered_by is not None):
        raise StreamError(BAD_START, "amd is for calls we place: an inbound caller is a person")
    return StreamStart(carrier, account.strip(), sample_rate, text["stage"] or None, attempt,
                       text["locale"] or None, token=text["token"], amd=amd or answered_by is not None,
                       answered_by=answered_by, direction=direction, caller=caller, **ids)


def _caller(value: Any) -> str | None:
    """The caller's number as E.164, or None when the carrier withheld it ("anonymous")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "anonymous", "restricted", "unknown")):
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise StreamError(BAD_START, "caller must be a phone number")
    try:
        return to_e164(value.strip(), None)
    except PhoneError as exc:
        raise StreamError(BAD_START, f"caller is not a phone number: {exc}") from None

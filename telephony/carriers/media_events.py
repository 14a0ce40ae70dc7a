"""Pieces every JSON media protocol shares: base64 payloads, keypad digits, the end mark.

Twilio, Telnyx and Plivo wrap base64 audio in JSON events and confirm playback of a named
mark; each checks the same things the same way, so a bad payload or digit is refused with the
same code and words whichever carrier sent it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from telephony.carriers.errors import BAD_MEDIA, BAD_MESSAGE, StreamError

END_MARK = "call-end"  # the mark sent after the bot's last audio; its echo: the caller heard it
DIGITS = "0123456789*#"


def decode_payload(payload: object) -> bytes:
    """A media event's base64 payload, or a StreamError (4400 missing, 4415 not base64)."""
    if not isinstance(payload, str):
        raise StreamError(BAD_MESSAGE, "media event without a media.payload string")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise StreamError(BAD_MEDIA, "media payload is not base64 (expected base64 audio)") from None


def check_digit(digit: object) -> str:
    """A keypad digit as a carrier sends it (a string or a number), or a StreamError."""
    if isinstance(digit, int) and not isinstance(digit, bool):
        digit = str(digit)
    if not isinstance(digit, str) or len(digit) != 1 or digit not in DIGITS:
        raise StreamError(BAD_MESSAGE, f"dtmf event with an invalid digit {str(digit)[:8]!r}")
    return digit


def json_event(data: str | bytes) -> dict[str, Any] | None:
    """A message as a JSON object, or None (for checks that must not raise, like the end mark's)."""
    if not isinstance(data, str):
        return None
    try:
        event = json.loads(data)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None

"""Why a media stream is refused or cut off, as WebSocket close codes a carrier can log.

Each connection is one call: anything wrong with it (credentials, framing, encoding, the
account it names) closes *that* socket with a code in the 4400 range and a reason a human can
read, and never touches the other calls.  The codes mirror HTTP statuses so an operator reading
a carrier's log recognises them (4401 unauthorised, 4413 too large...).
"""

from __future__ import annotations

import json
from typing import Any

BAD_MESSAGE = 4400        # not JSON, not an object, no event, binary where text is expected
UNAUTHORIZED = 4401       # no valid token or carrier signature
UNKNOWN_ACCOUNT = 4404    # the start names an account the server does not hold
TIMED_OUT = 4408          # no start message in time, no media for too long, or the call ran past its maximum
FRAME_TOO_LARGE = 4413    # a message over the configured maximum
BAD_MEDIA = 4415          # wrong audio encoding, rate or length, or a payload that is not base64
BAD_START = 4422          # start without an account, or with unusable stage/attempt/locale
TOO_MANY_OPENING = 4429   # this address already has its share of streams not yet started
SERVER_ERROR = 1011       # the server could not set the call up (a bug or a missing model)
TRY_AGAIN_LATER = 1013    # RFC 6455 "try again later": at the cap of opening streams or of calls
NORMAL = 1000

REASON_MAX_BYTES = 123    # RFC 6455: a close reason must fit in a control frame


class StreamError(Exception):
    """A problem with one stream; carries the close code and reason sent to the carrier."""

    def __init__(self, code: int, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = clip_reason(reason)


def clip_reason(reason: str) -> str:
    """RFC 6455 caps a close reason at 123 bytes of UTF-8; longer ones fail to send."""
    data = reason.encode("utf-8")
    if len(data) <= REASON_MAX_BYTES:
        return reason
    return data[: REASON_MAX_BYTES - 3].decode("utf-8", "ignore") + "..."


def check_size(data: str | bytes, max_bytes: int) -> None:
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
    if size > max_bytes:
        raise StreamError(FRAME_TOO_LARGE, f"frame of {size} bytes is over the {max_bytes}-byte limit")


def parse_object(text: str) -> dict[str, Any]:
    """A text message as a JSON object, or a StreamError saying why not."""
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StreamError(BAD_MESSAGE, f"message is not valid JSON ({exc.msg} at {exc.pos})"
                          if isinstance(exc, json.JSONDecodeError) else "message is not UTF-8") from None
    if not isinstance(message, dict):
        raise StreamError(BAD_MESSAGE, "message is not a JSON object")
    return message


def parse_event(text: str, key: str = "event") -> dict[str, Any]:
    """A text message as a JSON object with a string `event` (or `key`), or a StreamError."""
    message = parse_object(text)
    if not isinstance(message.get(key), str):
        raise StreamError(BAD_MESSAGE, f"message is not a JSON object with an \"{key}\" name")
    return message


def member(message: dict[str, Any], key: str) -> dict[str, Any]:
    """`message[key]` when it is an object, else {} (its fields are then reported missing)."""
    value = message.get(key)
    return value if isinstance(value, dict) else {}

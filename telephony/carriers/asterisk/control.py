"""chan_websocket's control messages, in both formats Asterisk speaks.

Plain text (the default up to now, one line): `MEDIA_START connection_id:abc channel:WebSocket/x
format:ulaw optimal_frame_size:160`, `DTMF_END digit:5`, `MEDIA_MARK_PROCESSED <id>`; commands
`FLUSH_MEDIA`, `MARK_MEDIA <id>`.  JSON (Asterisk 20.18, 22.8, 23.2 and later, `f(json)` or
chan_websocket.conf): `{"event": "MEDIA_START", ...}`, commands `{"command": "MARK_MEDIA",
"correlation_id": "<id>"}`.  The server answers in the format the stream opened with.
"""

from __future__ import annotations

import json
from typing import Any

from telephony.carriers.errors import BAD_MESSAGE, StreamError, parse_object


def parse_control(text: str) -> tuple[dict[str, Any], bool]:
    """(the event as a dict with an `event` name, whether it was JSON); StreamError if neither."""
    if text.lstrip().startswith("{"):
        event = parse_object(text)
        if not isinstance(event.get("event"), str):
            raise StreamError(BAD_MESSAGE, "JSON control message without an \"event\" name")
        return event, True
    tokens = text.split()
    if not tokens or not tokens[0].replace("_", "").isalpha():
        raise StreamError(BAD_MESSAGE, f"control message {text[:40]!r} is neither JSON nor an event line")
    event: dict[str, Any] = {"event": tokens[0]}
    for token in tokens[1:]:
        name, colon, value = token.partition(":")
        if colon:
            event[name] = value
        else:
            event.setdefault("correlation_id", token)  # MEDIA_MARK_PROCESSED <id>
    return event, False


def command(name: str, as_json: bool, correlation_id: str | None = None) -> str:
    if as_json:
        return json.dumps({"command": name, **({"correlation_id": correlation_id} if correlation_id else {})})
    return f"{name} {correlation_id}" if correlation_id else name

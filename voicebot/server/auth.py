"""Who may open a media stream: a shared token, or Twilio's signature over the stream URL.

Checked on the handshake, before a single audio byte is read.  Twilio cannot add query strings
or headers of its own to a `<Stream>` URL, so for /media/twilio its signature counts as proof
(computed with the account's auth token over the URL it was told to connect to), and a token
may also arrive as the `token` custom parameter of the start event (checked there).
"""

from __future__ import annotations

import hmac

from starlette.websockets import WebSocket

from telephony.providers.twilio.signature import signature_matches
from voicebot.server.errors import UNAUTHORIZED, StreamError
from voicebot.server.settings import ServerSettings


def token_ok(candidate: str | None, tokens: list[str]) -> bool:
    if not candidate:
        return False
    ok = False
    for token in tokens:  # compare with every token: the time taken says nothing about which
        ok |= hmac.compare_digest(candidate.encode("utf-8"), token.encode("utf-8"))
    return ok


def presented_token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return websocket.query_params.get("token")


def signed_urls(websocket: WebSocket, public_url: str | None) -> list[str]:
    """The URL Twilio signed: as this server saw it, and as the public (proxy) URL names it."""
    seen = str(websocket.url)
    urls = [seen]
    if public_url:
        query = f"?{websocket.url.query}" if websocket.url.query else ""
        urls.append(public_url.rstrip("/") + websocket.url.path + query)
    return urls


def twilio_signature_ok(websocket: WebSocket, settings: ServerSettings) -> bool:
    if settings.twilio_auth_token is None:
        return False
    return signature_matches(settings.twilio_auth_token.get_secret_value(),
                             signed_urls(websocket, settings.public_url),
                             websocket.headers.get("x-twilio-signature"))


def authenticate(websocket: WebSocket, settings: ServerSettings, *, twilio: bool) -> bool:
    """True when the handshake carries a valid token (or, for Twilio, a valid signature).

    Raises StreamError(4401) for a present but wrong credential, so the close reason can say
    which one was wrong; returns False when none was presented (Twilio may still send a token
    in its start event)."""
    token = presented_token(websocket)
    if token is not None:
        if token_ok(token, settings.token_values()):
            return True
        raise StreamError(UNAUTHORIZED, "invalid token")
    if twilio and "x-twilio-signature" in websocket.headers:
        if twilio_signature_ok(websocket, settings):
            return True
        raise StreamError(UNAUTHORIZED, "invalid X-Twilio-Signature for this URL")
    return False


def require_start_token(token: str | None, settings: ServerSettings) -> None:
    """The last chance for a Twilio stream: a `token` custom parameter in its start event."""
    if token is None:
        raise StreamError(UNAUTHORIZED, "authentication required: X-Twilio-Signature or a token "
                                        "(?token=, Authorization: Bearer, or a 'token' stream parameter)")
    if not token_ok(token, settings.token_values()):
        raise StreamError(UNAUTHORIZED, "invalid token")

"""Who may open a media stream: a shared token, or the carrier's own proof (a signature).

Checked on the handshake, before a single audio byte is read.  Tokens come as `?token=`,
`Authorization: Bearer`, or (where a carrier can only send its own header) in a header the
carrier names; carriers that sign their requests (Twilio, Plivo, Vonage) are checked by their
folder's `signature` module against the secret the operator configured for them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.datastructures import URL, Headers, QueryParams


@dataclass(frozen=True)
class Access:
    """The server's credentials: stream tokens, each carrier's signing secret, and the public
    URL (scheme and host) carriers connect to when a proxy in front changes them."""

    tokens: tuple[str, ...] = ()
    secrets: Mapping[str, str] = field(default_factory=dict)
    public_url: str | None = None

    def secret(self, carrier: str) -> str | None:
        return self.secrets.get(carrier) or None


class Handshake:
    """What the checks read of a connection: Starlette's WebSocket (or Request) has all three."""

    url: URL
    headers: Headers
    query_params: QueryParams


def token_ok(candidate: str | None, tokens: tuple[str, ...] | list[str]) -> bool:
    if not candidate:
        return False
    ok = False
    for token in tokens:  # compare with every token: the time taken says nothing about which
        ok |= hmac.compare_digest(candidate.encode("utf-8"), token.encode("utf-8"))
    return ok


def bearer(headers: Headers) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def basic_password(headers: Headers) -> str | None:
    """The password of `Authorization: Basic` (Asterisk's websocket_client.conf sends one)."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return password or None


def presented_token(handshake: Handshake, header: str | None = None) -> str | None:
    """Bearer, then the carrier's own header if it has one, then `?token=`."""
    token = bearer(handshake.headers)
    if token is None and header:
        token = handshake.headers.get(header) or None
    return token if token is not None else handshake.query_params.get("token")


def signed_urls(handshake: Handshake, public_url: str | None) -> list[str]:
    """The URL a carrier signed: as this server saw it, and as the public (proxy) URL names it."""
    urls = [str(handshake.url)]
    if public_url:
        query = f"?{handshake.url.query}" if handshake.url.query else ""
        urls.append(public_url.rstrip("/") + handshake.url.path + query)
    return urls


def http_url(ws_url: str) -> str:
    """wss://host/... as carriers fetch it over HTTP (https://host/...): a server's public base
    is given once, as the WebSocket URL carriers stream to."""
    scheme, sep, rest = ws_url.partition("://")
    return {"wss": "https", "ws": "http"}.get(scheme, scheme) + sep + rest


def stream_url(request: Handshake, public_url: str | None, path: str) -> str:
    """wss://<public host><path>, for a document telling a carrier where to stream (the request's
    own host when no public URL is set)."""
    if public_url:
        return public_url.rstrip("/") + path
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{request.url.netloc}{path}"

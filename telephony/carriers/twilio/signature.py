"""Twilio's request signature (X-Twilio-Signature), implemented from Twilio's documentation.

    signature = base64(HMAC-SHA1(auth_token, url + concat(sorted(name + value for POST params))))

A WebSocket handshake has no POST parameters, so it signs the URL alone.  Twilio signs the URL
exactly as it was configured, and its own validator accepts it with or without an explicit
default port; `url_variants` reproduces that so a `:443` in one place and not the other does
not lock Twilio out.  The twilio package is not needed for this (nor installed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def twilio_signature(auth_token: str, url: str,
                     params: Mapping[str, str | Iterable[str]] | None = None) -> str:
    payload = url
    for name in sorted(params or {}):
        value = (params or {})[name]
        values = [value] if isinstance(value, str) else sorted(value)
        payload += "".join(name + v for v in values)
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> list[str]:
    """The URL as given, without its default port, and with it (Twilio's validator does the same)."""
    parts = urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    variants = [url]
    if default is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        prefix = userinfo + "@" if userinfo else ""
        if parts.port in (None, default):
            for netloc in (f"{prefix}{host}", f"{prefix}{host}:{default}"):
                variants.append(urlunsplit(parts._replace(netloc=netloc)))
    return list(dict.fromkeys(variants))


def signature_matches(auth_token: str, urls: Iterable[str], signature: str | None,
                      params: Mapping[str, str | Iterable[str]] | None = None) -> bool:
    """Constant-time check of `signature` against every acceptable spelling of the URL."""
    if not signature or not auth_token:
        return False
    ok = False
    for url in urls:
        for variant in url_variants(url):
            ok |= hmac.compare_digest(twilio_signature(auth_token, variant, params), signature)
    return ok

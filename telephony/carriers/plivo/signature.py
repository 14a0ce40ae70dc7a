"""Plivo's request signature (X-Plivo-Signature-V3), from Plivo's documentation and SDKs.

    base      = scheme://host/path [+ "?" + query params sorted by name, decoded, k=v joined by &]
    signature = base64(HMAC-SHA256(auth_token, base + "." + nonce))

for a GET request such as a WebSocket handshake (POST bodies, which a handshake has none of,
would be appended too).  The header may hold several signatures separated by commas (one per
auth token in rotation); any one matching is enough.  The nonce arrives in
X-Plivo-Signature-V3-Nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit


def base_url(url: str) -> str:
    parts = urlsplit(url)
    params = sorted(parse_qsl(parts.query, keep_blank_values=True))
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return base + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "")


def plivo_signature(auth_token: str, url: str, nonce: str) -> str:
    payload = f"{base_url(url)}.{nonce}".encode("utf-8")
    return base64.b64encode(hmac.new(auth_token.encode("utf-8"), payload, hashlib.sha256).digest()).decode("ascii")


def signature_matches(auth_token: str, urls: Iterable[str], nonce: str | None, header: str | None) -> bool:
    """Constant-time check of every signature in `header` against every URL the request may name."""
    if not auth_token or not nonce or not header:
        return False
    given = [s.strip() for s in header.split(",") if s.strip()]
    ok = False
    for url in urls:
        expected = plivo_signature(auth_token, url, nonce)
        for signature in given:
            ok |= hmac.compare_digest(expected, signature)
    return ok

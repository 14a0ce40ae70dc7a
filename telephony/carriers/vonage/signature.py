"""Vonage's signed handshake: `Authorization: Bearer <JWT>`, HS256 with the signature secret.

With `"authorization": {"type": "vonage"}` on the NCCO's websocket endpoint, the Voice API
sends the same JWT it puts on signed webhooks: HMAC-SHA256 with the account's signature secret,
issued at `iat`.  A token older than `MAX_AGE_S` is refused, so a captured handshake cannot be
replayed for long.  (`"type": "custom"` sends a value verbatim instead: `Bearer <a server
token>` works as with any carrier.)
"""

from __future__ import annotations

import time

import jwt

MAX_AGE_S = 300.0


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("eyJ")


def jwt_valid(token: str, secret: str, now: float | None = None) -> bool:
    """The JWT is signed with `secret` (HS256), not expired, and issued within MAX_AGE_S."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["iat"]},
                            leeway=30)
    except jwt.PyJWTError:
        return False
    issued = claims.get("iat")
    now = time.time() if now is None else now
    return isinstance(issued, (int, float)) and abs(now - issued) <= MAX_AGE_S

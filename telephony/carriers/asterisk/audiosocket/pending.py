"""Which account an AudioSocket call is about: its UUID, registered ahead over HTTP.

AudioSocket carries no parameters and no credentials, only the call's UUID.  So the UUID plays
the part the start parameters play for the other carriers, and a token's part too: whoever
routes the call (a dialplan `CURL()`, an ARI application, a dialer) first registers it,
authenticated with a server token,

    POST /media/audiosocket/calls   {"account": "EN-LATE-1", "stage": "late", "uuid": "<optional>"}
    -> {"uuid": "3f0c...", "expires_in_s": 60}

then dials `AudioSocket(3f0c...,bot:9092)`.  A registration is checked like any start (an
account, valid stage and locale), used once, and forgotten after `ttl_s`; a connection naming
an unknown, used or expired UUID is hung up.  Registrations live in the process that took them:
register on the server the AudioSocket will reach.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from telephony.carriers.errors import BAD_START, StreamError
from telephony.carriers.stream_start import call_options, start_parameters


@dataclass(frozen=True)
class Pending:
    params: dict[str, Any]
    expires_at: float


class PendingCalls:
    def __init__(self, ttl_s: float = 60.0, max_pending: int = 10_000):
        self.ttl_s, self.max_pending = ttl_s, max_pending
        self._calls: dict[str, Pending] = {}

    def register(self, params: dict[str, Any], call_id: str | None = None, now: float | None = None) -> str:
        """The UUID the call must present; StreamError (4422) for parameters no start could have."""
        now = time.monotonic() if now is None else now
        params = start_parameters(params)
        call_options("audiosocket", params, 8000)  # the same checks as any start, now rather than at dial
        try:
            key = str(uuid.UUID(call_id)) if call_id else str(uuid.uuid4())
        except ValueError:
            raise StreamError(BAD_START, f"uuid {str(call_id)[:40]!r} is not a UUID") from None
        self._forget_expired(now)
        if len(self._calls) >= self.max_pending:
            raise StreamError(BAD_START, f"{self.max_pending} calls are already waiting to connect")
        self._calls[key] = Pending(params, now + self.ttl_s)
        return key

    def claim(self, call_id: str, now: float | None = None) -> dict[str, Any] | None:
        """The parameters registered for `call_id`, once; None if unknown, used or expired."""
        pending = self._calls.pop(call_id, None)
        now = time.monotonic() if now is None else now
        return pending.params if pending is not None and pending.expires_at > now else None

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, p in self._calls.items() if p.expires_at <= now]:
            del self._calls[key]

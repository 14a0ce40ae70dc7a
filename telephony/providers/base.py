"""What the rest of the system asks of a phone carrier, whichever carrier it is.

Four verbs, all async: place a call (the carrier then connects the callee's audio to the
media-stream server), transfer a live call to a number, hang a call up, send an SMS.  The
campaign runner places calls, the media-stream server transfers and hangs up when the
dialogue says so, and SMS triggers send texts, all through this protocol, so the local
provider (development, tests, the demo) and a real carrier are interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class ProviderError(RuntimeError):
    """The carrier refused or failed a request; `status` and `code` are the carrier's own."""

    def __init__(self, message: str, status: int | None = None, code: int | str | None = None):
        super().__init__(message)
        self.status, self.code = status, code


@dataclass
class PlacedCall:
    """A call the carrier accepted. `call_id` is the carrier's id (Twilio's CallSid), the one
    the media stream reports and `transfer`/`hang_up` take."""

    call_id: str
    to: str
    account_id: str
    status: str = "queued"  # queued | ringing | in-progress | completed | busy | no-answer | failed
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    name: str

    async def place_call(self, to: str, account_id: str, *, stage: str | None = None,
                         attempt: int = 1, locale: str | None = None) -> PlacedCall:
        """Dial `to`; when answered, stream the call to the server for `account_id`."""
        ...

    async def transfer(self, call_id: str, to: str) -> None:
        """Connect a live call to `to` (an agent line); the media stream ends."""
        ...

    async def hang_up(self, call_id: str) -> None:
        """End a call; ending one that has already ended is not an error."""
        ...

    async def send_sms(self, to: str, body: str) -> str:
        """Send a text message; returns the carrier's message id."""
        ...

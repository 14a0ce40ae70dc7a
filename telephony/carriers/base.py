"""What a carrier is to the media-stream server: one object per carrier, in its own folder.

A carrier names its route (`/media/<name>`), proves who connects (`authenticate`), reads the
stream's opening into a `StreamStart` (`read_start`), and builds the pipecat serializer that
speaks its media protocol (`serializer`).  It may say how the bot's audio must be cut
(`pacing`: fixed-size messages, no lead) and add HTTP routes of its own (`routes`).  The server
(`voicebot/server/app.py`) mounts every carrier of `telephony.carriers.registry` the same way,
so adding a carrier is its folder and one line there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from pipecat.serializers.base_serializer import FrameSerializer

from telephony.bus.base import Bus
from telephony.carriers.auth import Access, Handshake, presented_token, token_ok
from telephony.carriers.errors import UNAUTHORIZED, StreamError
from telephony.carriers.stream_start import MessageSocket, StreamStart

TOKEN_REQUIRED = "authentication required: a token (?token= or Authorization: Bearer)"


@dataclass(frozen=True)
class Limits:
    """The server's limits on one stream's messages and on the time to its start."""

    max_frame_bytes: int = 64 * 1024
    start_timeout_s: float = 3.0
    input_frame_ms: int = 40  # carrier audio per pipeline input frame (`batching.py`)


@dataclass(frozen=True)
class Pacing:
    """How the bot's audio must reach this carrier (None: the server's defaults).

    packet_bytes: every audio message exactly this long (Vonage and AudioSocket take 20 ms ones);
    frame_ms: audio per write to the socket; lead_s: audio sent ahead of playback (0 where the
    carrier has no buffer to clear on a barge-in and plays what it gets as it gets it)."""

    packet_bytes: int | None = None
    frame_ms: int | None = None
    lead_s: float | None = None


@runtime_checkable
class MarksPlayback(Protocol):
    """A serializer whose carrier confirms playback: it sends `end_mark` after the bot's last
    audio, and the carrier's echo (`is_end_mark`) says the caller heard the last words."""

    end_mark: str

    def is_end_mark(self, data: str | bytes) -> bool: ...


class Carrier:
    """Base of every carrier: a token (Bearer or `?token=`) proves a stream by default."""

    name: ClassVar[str]
    websocket: ClassVar[bool] = True           # mounted at /media/<name> (AudioSocket: a TCP listener)
    token_header: ClassVar[str | None] = None  # a carrier's own header carrying the token
    token_in_start: ClassVar[bool] = False     # may an unproven stream send its token in the start?
    auth_required: ClassVar[str] = TOKEN_REQUIRED

    @property
    def path(self) -> str:
        return f"/media/{self.name}"

    def authenticate(self, handshake: Handshake, access: Access) -> bool:
        """True when the handshake proves itself; False when it presents nothing; StreamError
        (4401) for a present but wrong credential, so the close reason can say which."""
        token = presented_token(handshake, self.token_header)
        if token is not None:
            if token_ok(token, access.tokens):
                return True
            raise StreamError(UNAUTHORIZED, "invalid token")
        return self.signature_ok(handshake, access)

    def signature_ok(self, handshake: Handshake, access: Access) -> bool:
        """A carrier's own signature on the handshake (none by default)."""
        return False

    async def read_start(self, socket: MessageSocket, limits: Limits) -> StreamStart:
        raise NotImplementedError

    def serializer(self, start: StreamStart, limits: Limits) -> FrameSerializer:
        raise NotImplementedError

    def pacing(self, start: StreamStart) -> Pacing:
        return Pacing()

    def routes(self, access: Access, bus: Bus | None = None) -> Any | None:
        """HTTP routes of the carrier's own (a FastAPI APIRouter), or None; `bus`: the live bus,
        for what the carrier reports about calls (Twilio's status callbacks)."""
        return None

    async def open(self, socket: MessageSocket, access: Access, limits: Limits,
                   authed: bool) -> tuple[StreamStart, FrameSerializer]:
        """The start and the serializer of a stream; an unproven one learns nothing about its
        messages (4401 whatever is wrong) unless its start carries a valid token."""
        try:
            start = await self.read_start(socket, limits)
        except StreamError:
            if not authed:
                raise StreamError(UNAUTHORIZED, self.auth_required) from None
            raise
        if not authed:
            if start.token is None:
                raise StreamError(UNAUTHORIZED, self.auth_required)
            if not token_ok(start.token, access.tokens):
                raise StreamError(UNAUTHORIZED, "invalid token")
        return start, self.serializer(start, limits)

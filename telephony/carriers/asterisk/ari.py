"""Asterisk as the carrier for a handoff: hang-up and transfer through ARI (the REST Interface).

    transfer  GET    /ari/bridges                         the bridge holding the media channel
              POST   /ari/channels/{caller}/continue      context=<transfer context>, extension=<to>,
                                                          priority=1: the caller leaves Stasis for
                                                          the dialplan, which dials the agent line
              DELETE /ari/channels/{media channel}        the bot's leg goes
    hang_up   DELETE /ari/channels/{id}                   every channel of that bridge (or the one)

The stream's call id is a channel id: chan_websocket's `channel_id` in MEDIA_START, or the UUID
an AudioSocket call was registered with, which is its channel's id when an ARI application made
that channel (`externalMedia` with `channelId`).  Such an application holds the caller's
channel in Stasis, bridged with the media channel: ARI moves only channels in Stasis (409
otherwise), so the caller is found through the bridge, and a channel in no bridge is moved
itself.  The transfer context is the operator's, e.g.
`[voicebot-transfer] exten => _X.,1,Dial(PJSIP/${EXTEN}@agents)`.  HTTP basic auth with an
ari.conf user.  ARI errors are `{"message": ...}`; a channel that is already gone (404) is not
an error for a hang-up.  Placing calls and texts are not ARI's: they raise ProviderError.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from telephony.providers.base import PlacedCall, ProviderError
from telephony.providers.http_api import CarrierApi

TRANSFER_CONTEXT = "voicebot-transfer"
PHONE_NUMBER = re.compile(r"\+?[\d\s().-]+")


def extension(to: str) -> str:
    """A phone number as a dialplan extension (1-800-555-0199 -> 18005550199); a name as it is."""
    return re.sub(r"[\s().-]", "", to) if PHONE_NUMBER.fullmatch(to) else to


def describe(body: dict[str, Any]) -> tuple[str | None, None]:
    message = body.get("message") or body.get("error")
    return (str(message) if message else None), None


def gone(status: int, _code: Any) -> bool:
    return status == 404


class AsteriskAriProvider:
    name = "asterisk"

    def __init__(self, base_url: str, username: str, password: str, *,
                 transfer_context: str = TRANSFER_CONTEXT, timeout_s: float = 10.0):
        """base_url: Asterisk's HTTP server (http://pbx:8088); username/password: an ari.conf user."""
        if not (base_url and username and password):
            raise ValueError("ARI needs Asterisk's HTTP URL, a user and its password")
        self.transfer_context = transfer_context
        self._api = CarrierApi("Asterisk ARI", base_url, describe, auth=(username, password), timeout_s=timeout_s)

    async def aclose(self) -> None:
        await self._api.aclose()

    async def _bridged_with(self, channel_id: str) -> list[str]:
        """The other channels of the bridge holding `channel_id` ([] when it is in none)."""
        bridges = (await self._api.send("GET", "/ari/bridges")).get("data") or []
        for bridge in bridges:
            channels = bridge.get("channels") or []
            if channel_id in channels:
                return [c for c in channels if c != channel_id]
        return []

    def _channel(self, channel_id: str) -> str:
        return f"/ari/channels/{quote(channel_id, safe='')}"

    async def transfer(self, call_id: str, to: str) -> None:
        callers = await self._bridged_with(call_id)
        await self._api.send("POST", self._channel(callers[0] if callers else call_id) + "/continue",
                             params={"context": self.transfer_context, "extension": extension(to), "priority": "1"})
        if callers:
            await self._api.send("DELETE", self._channel(call_id), ended=gone)

    async def hang_up(self, call_id: str) -> None:
        for channel in [*await self._bridged_with(call_id), call_id]:
            await self._api.send("DELETE", self._channel(channel), params={"reason": "normal"}, ended=gone)

    async def place_call(self, to: str, account_id: str, *, stage: str | None = None,
                         attempt: int = 1, locale: str | None = None) -> PlacedCall:
        raise ProviderError("Asterisk calls are placed by its dialplan or ARI application, not by this provider")

    async def send_sms(self, to: str, body: str) -> str:
        raise ProviderError("Asterisk sends no SMS: give the campaign a carrier that does")

"""Telnyx as the carrier, over Call Control v2 (httpx; the telnyx package is not needed).

    place_call  POST /v2/calls                                  connection_id, to, from, stream_url
                                                                (+ the call's parameters), stream_track
                                                                both_tracks, bidirectional RTP PCMU
    transfer    POST /v2/calls/{call_control_id}/actions/transfer   to
    hang_up     POST /v2/calls/{call_control_id}/actions/hangup
    send_sms    POST /v2/messages                               from | messaging_profile_id, to, text

Bearer API key.  The stream's proof is `stream_auth_token` (one of the server's tokens), which
Telnyx sends as the x-telnyx-streaming-auth-token header; the account and stage ride in the
stream URL's query, which `telnyx/carrier.py` reads (the serializer hears only the inbound track,
so both_tracks costs bandwidth, not correctness).  Telnyx errors are
`{"errors": [{"code", "title", "detail"}]}`; hanging up a call that has already ended (90018,
or 10005 for a call id Telnyx has forgotten) is not an error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from telephony.providers.base import PlacedCall, ProviderError
from telephony.providers.http_api import CarrierApi, call_parameters

API_BASE = "https://api.telnyx.com"
CALL_ENDED = {"90018", "10005"}


def describe(body: dict[str, Any]) -> tuple[str | None, str | None]:
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = " ".join(str(first[k]) for k in ("title", "detail") if first.get(k)) or None
    return message, (str(first["code"]) if first.get("code") is not None else None)


def call_ended(_status: int, code: int | str | None) -> bool:
    return code in CALL_ENDED


class TelnyxRestProvider:
    name = "telnyx"

    def __init__(self, api_key: str, *, from_number: str | None = None, connection_id: str | None = None,
                 stream_url: str, stream_token: str | None = None, base_url: str = API_BASE,
                 messaging_profile_id: str | None = None, timeout_s: float = 10.0):
        """stream_url: the server's Telnyx endpoint as Telnyx reaches it (wss://.../media/telnyx).
        connection_id: the Call Control application placing calls (not needed to transfer,
        hang up or text).  stream_token: one of the server's stream tokens."""
        if not api_key:
            raise ValueError("a Telnyx API key is needed")
        if not (from_number or messaging_profile_id):
            raise ValueError("a from_number (or, for SMS only, a messaging_profile_id) is needed")
        self.from_number, self.connection_id = from_number, connection_id
        self.stream_url, self.stream_token = stream_url, stream_token
        self.messaging_profile_id = messaging_profile_id
        self._api = CarrierApi("Telnyx", base_url, describe, timeout_s=timeout_s,
                               headers={"Authorization": f"Bearer {api_key}"})

    async def aclose(self) -> None:
        await self._api.aclose()

    async def place_call(self, to: str, account_id: str, *, stage: str | None = None,
                         attempt: int = 1, locale: str | None = None) -> PlacedCall:
        if not (self.connection_id and self.from_number):
            raise ProviderError("placing Telnyx calls needs a connection_id and a from_number")
        query = urlencode(call_parameters(account_id, stage, attempt, locale))
        request: dict[str, Any] = {
            "connection_id": self.connection_id, "to": to, "from": self.from_number,
            "stream_url": f"{self.stream_url}?{query}", "stream_track": "both_tracks",
            "stream_bidirectional_mode": "rtp", "stream_bidirectional_codec": "PCMU",
        }
        if self.stream_token:
            request["stream_auth_token"] = self.stream_token
        data = (await self._api.send("POST", "/v2/calls", json=request)).get("data") or {}
        if not data.get("call_control_id"):
            raise ProviderError("Telnyx accepted the call but named no call_control_id")
        return PlacedCall(data["call_control_id"], to, account_id, "queued", data)

    def _action(self, call_id: str, action: str) -> str:
        return f"/v2/calls/{quote(call_id, safe=':')}/actions/{action}"

    async def transfer(self, call_id: str, to: str) -> None:
        await self._api.send("POST", self._action(call_id, "transfer"), json={"to": to})

    async def hang_up(self, call_id: str) -> None:
        await self._api.send("POST", self._action(call_id, "hangup"), json={}, ended=call_ended)

    async def send_sms(self, to: str, body: str) -> str:
        sender = ({"messaging_profile_id": self.messaging_profile_id} if self.messaging_profile_id else {})
        if self.from_number:
            sender["from"] = self.from_number
        data = (await self._api.send("POST", "/v2/messages", json={"to": to, "text": body, **sender})).get("data")
        return data["id"]

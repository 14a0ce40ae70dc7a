"""Plivo as the carrier, over its REST API (httpx; the plivo package is not needed).

    place_call  POST   /v1/Account/{auth_id}/Call/             from, to, answer_url (GET)
    transfer    POST   .../Call/{call_uuid}/                   legs=aleg, aleg_url (GET)
    hang_up     DELETE .../Call/{call_uuid}/
    send_sms    POST   .../Message/                            src, dst, text

HTTP basic auth with the auth id and token.  Plivo takes no inline XML: the answer and transfer
URLs point at the server (`plivo/answer.py`), which answers with `<Stream>` and `<Dial>` when
Plivo's signature on the request holds, so the server's `carrier_secrets["plivo"]` must be this
auth token.  A placed call is known by Plivo's `request_uuid` until it is answered; the stream
then reports the call's `CallUUID`, the id transfers and hang-ups take.  Plivo errors are
`{"api_id", "error"}`; hanging up a call Plivo no longer has (404) is not an error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from telephony.carriers.plivo.answer import ANSWER_PATH, TRANSFER_PATH
from telephony.providers.base import PlacedCall
from telephony.providers.http_api import CarrierApi, call_parameters

API_BASE = "https://api.plivo.com"


def describe(body: dict[str, Any]) -> tuple[str | None, None]:
    error = body.get("error")
    return (str(error) if error else None), None


def call_ended(status: int, _code: Any) -> bool:
    return status == 404


class PlivoRestProvider:
    name = "plivo"

    def __init__(self, auth_id: str, auth_token: str, *, from_number: str, server_url: str,
                 base_url: str = API_BASE, caller_id: str | None = None, timeout_s: float = 10.0):
        """server_url: the server's public HTTP base as Plivo reaches it (https://bot.example.com)."""
        if not (auth_id and auth_token and from_number):
            raise ValueError("Plivo needs an auth id, an auth token and a from_number")
        self.auth_id, self.from_number, self.caller_id = auth_id, from_number, caller_id
        self.server_url = server_url.rstrip("/")
        self._root = f"/v1/Account/{quote(auth_id, safe='')}"
        self._api = CarrierApi("Plivo", base_url, describe, auth=(auth_id, auth_token), timeout_s=timeout_s)

    async def aclose(self) -> None:
        await self._api.aclose()

    async def place_call(self, to: str, account_id: str, *, stage: str | None = None,
                         attempt: int = 1, locale: str | None = None) -> PlacedCall:
        answer_url = f"{self.server_url}{ANSWER_PATH}?" + urlencode(call_parameters(account_id, stage, attempt, locale))
        body = await self._api.send("POST", f"{self._root}/Call/", json={
            "from": self.from_number, "to": to, "answer_url": answer_url, "answer_method": "GET"})
        request_uuid = body.get("request_uuid")
        if isinstance(request_uuid, list):  # a call to several numbers names one per number
            request_uuid = request_uuid[0] if request_uuid else None
        return PlacedCall(str(request_uuid or ""), to, account_id, "queued", body)

    def _call(self, call_id: str) -> str:
        return f"{self._root}/Call/{quote(call_id, safe='')}/"

    async def transfer(self, call_id: str, to: str) -> None:
        query = {"to": to, **({"caller_id": self.caller_id} if self.caller_id else {})}
        await self._api.send("POST", self._call(call_id), json={
            "legs": "aleg", "aleg_url": f"{self.server_url}{TRANSFER_PATH}?{urlencode(query)}",
            "aleg_method": "GET"})

    async def hang_up(self, call_id: str) -> None:
        await self._api.send("DELETE", self._call(call_id), ended=call_ended)

    async def send_sms(self, to: str, body: str) -> str:
        reply = await self._api.send("POST", f"{self._root}/Message/",
                                     json={"src": self.from_number, "dst": to, "text": body})
        uuids = reply.get("message_uuid") or [""]
        return uuids[0] if isinstance(uuids, list) else str(uuids)

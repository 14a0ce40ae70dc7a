"""Twilio as the carrier, over its REST API (httpx; the twilio package is not needed).

    place_call  POST /2010-04-01/Accounts/{sid}/Calls.json   To, From, Twiml=<Connect><Stream>
    transfer    POST .../Calls/{CallSid}.json                 Twiml=<Dial>number</Dial>
    hang_up     POST .../Calls/{CallSid}.json                 Status=completed
    send_sms    POST .../Messages.json                        To, From | MessagingServiceSid, Body

HTTP basic auth with the account SID and auth token.  `base_url` points elsewhere for a
Twilio-compatible service or a test double.  Twilio's JSON errors ({"code", "message"}) become
ProviderError; hanging up a call that has already ended (Twilio error 20404) is not an error.
"""

from __future__ import annotations

from typing import Any

import httpx

from telephony.carriers.twilio import twiml
from telephony.providers.base import PlacedCall, ProviderError

API_BASE = "https://api.twilio.com"
NOT_FOUND = 20404
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class TwilioRestProvider:
    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str | None = None,
                 stream_url: str, stream_token: str | None = None, base_url: str = API_BASE,
                 status_callback: str | None = None, messaging_service_sid: str | None = None,
                 caller_id: str | None = None, timeout_s: float = 10.0):
        """stream_url: the server's Twilio endpoint as Twilio reaches it (wss://.../media/twilio).
        stream_token: sent as the stream's `token` parameter, for a server that does not check
        Twilio signatures.  from_number / messaging_service_sid: who calls and texts."""
        if not (from_number or messaging_service_sid):
            raise ValueError("a from_number (or, for SMS only, a messaging_service_sid) is needed")
        self.account_sid, self.stream_url, self.stream_token = account_sid, stream_url, stream_token
        self.from_number, self.messaging_service_sid = from_number, messaging_service_sid
        self.status_callback, self.caller_id = status_callback, caller_id
        self._root = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}"
        self._http = httpx.AsyncClient(auth=(account_sid, auth_token), timeout=timeout_s,
                                       headers={"Accept": "application/json"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, data: dict[str, Any], *, missing_ok: bool = False) -> dict[str, Any]:
        try:
            response = await self._http.post(self._root + path, data=data)
        except httpx.HTTPError as exc:
            raise ProviderError(f"Twilio request {path} failed: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.is_success:
            return body
        code = body.get("code")
        if missing_ok and code == NOT_FOUND:
            return body
        raise ProviderError(f"Twilio {path}: {response.status_code} {body.get('message') or response.text}",
                            response.status_code, code)

    async def place_call(self, to: str, account_id: str, *, stage: str | None = None,
                         attempt: int = 1, locale: str | None = None) -> PlacedCall:
        if not self.from_number:
            raise ProviderError("placing calls needs a from_number")
        params = {k: v for k, v in {"account": account_id, "stage": stage, "attempt": str(attempt),
                                    "locale": locale, "token": self.stream_token}.items() if v}
        data: dict[str, Any] = {"To": to, "From": self.from_number,
                                "Twiml": twiml.connect_stream(self.stream_url, params)}
        if self.status_callback:
            data.update(StatusCallback=self.status_callback, StatusCallbackEvent=STATUS_EVENTS)
        body = await self._post("/Calls.json", data)
        return PlacedCall(body["sid"], to, account_id, body.get("status", "queued"), body)

    async def transfer(self, call_id: str, to: str) -> None:
        await self._post(f"/Calls/{call_id}.json", {"Twiml": twiml.dial(to, caller_id=self.caller_id)})

    async def hang_up(self, call_id: str) -> None:
        await self._post(f"/Calls/{call_id}.json", {"Status": "completed"}, missing_ok=True)

    async def send_sms(self, to: str, body: str) -> str:
        sender = ({"MessagingServiceSid": self.messaging_service_sid} if self.messaging_service_sid
                  else {"From": self.from_number})
        reply = await self._post("/Messages.json", {"To": to, "Body": body, **sender})
        return reply["sid"]

"""Vonage as the carrier, over the Voice API and the SMS API (httpx + PyJWT; no vonage package).

    place_call  POST /v1/calls          to, from (phone), answer_url (GET, the server's NCCO)
    transfer    PUT  /v1/calls/{uuid}   {"action": "transfer", "destination": {"type": "ncco",
                                         "ncco": [connect phone]}}
    hang_up     PUT  /v1/calls/{uuid}   {"action": "hangup"}
    send_sms    POST rest.nexmo.com/sms/json   api_key, api_secret, from, to, text

The Voice API takes a JWT per request, RS256 with the application's private key (claims
application_id, iat, exp, jti); the SMS API takes the account's key and secret instead (the
older SMS API rather than the Messages API: one form post, no second application setup).  The
answer URL points at the server (`vonage/answer.py`), which connects the call's audio with its
uuid in the stream's headers.  Voice errors are `{"type", "title", "detail"}`; hanging up a call
Vonage no longer has (404) is not an error.  SMS errors come back as 200 with a non-zero
message `status` and an `error-text`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import jwt

from telephony.carriers.vonage.answer import ANSWER_PATH
from telephony.providers.base import PlacedCall, ProviderError
from telephony.providers.http_api import CarrierApi, call_parameters

API_BASE = "https://api.nexmo.com"
SMS_BASE = "https://rest.nexmo.com"
JWT_LIFETIME_S = 300


def describe(body: dict[str, Any]) -> tuple[str | None, str | None]:
    message = " ".join(str(body[k]) for k in ("title", "detail") if body.get(k)) or None
    return message, (str(body["type"]) if body.get("type") else None)


def call_ended(status: int, _code: Any) -> bool:
    return status == 404


def number(value: str) -> str:
    """Vonage writes E.164 without the plus."""
    return value.strip().lstrip("+")


class VonageRestProvider:
    name = "vonage"

    def __init__(self, application_id: str, private_key: str, *, from_number: str, server_url: str,
                 api_key: str | None = None, api_secret: str | None = None, base_url: str = API_BASE,
                 sms_base_url: str = SMS_BASE, timeout_s: float = 10.0):
        """private_key: the application's PEM private key (text).  server_url: the server's
        public HTTP base as Vonage reaches it.  api_key/api_secret: for SMS only."""
        if not (application_id and private_key and from_number):
            raise ValueError("Vonage needs an application id, its private key and a from_number")
        self.application_id, self.from_number = application_id, from_number
        self.server_url, self._private_key = server_url.rstrip("/"), private_key
        self._sms_auth = {"api_key": api_key, "api_secret": api_secret} if api_key and api_secret else None
        self._sms_base = sms_base_url
        self._api = CarrierApi("Vonage", base_url, describe, timeout_s=timeout_s)
        self._token()  # a key that cannot sign fails here, at start, not at the first transfer

    async def aclose(self) -> None:
        await self._api.aclose()

    def _token(self) -> str:
        now = int(time.time())
        try:
            return jwt.encode({"application_id": self.application_id, "iat": now, "exp": now + JWT_LIFETIME_S,
                               "jti": str(uuid.uuid4())}, self._private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ValueError(f"the Vonage private key cannot sign a JWT (RS256): {exc}") from None

    def _send(self, method: str, path: str, body: dict[str, Any], **kwargs: Any):
        return self._api.send(method, path, json=body, headers={"Authorization": f"Bearer {self._token()}"},
                              **kwargs)

    async def place_call(self, to: str, account_id: str, *, stage: str | None = None,
                         attempt: int = 1, locale: str | None = None) -> PlacedCall:
        answer_url = f"{self.server_url}{ANSWER_PATH}?" + urlencode(call_parameters(account_id, stage, attempt, locale))
        body = await self._send("POST", "/v1/calls", {
            "to": [{"type": "phone", "number": number(to)}],
            "from": {"type": "phone", "number": number(self.from_number)},
            "answer_url": [answer_url], "answer_method": "GET"})
        if not body.get("uuid"):
            raise ProviderError("Vonage accepted the call but named no uuid")
        return PlacedCall(body["uuid"], to, account_id, body.get("status", "started"), body)

    async def transfer(self, call_id: str, to: str) -> None:
        ncco = [{"action": "connect", "from": number(self.from_number),
                 "endpoint": [{"type": "phone", "number": number(to)}]}]
        await self._send("PUT", f"/v1/calls/{quote(call_id, safe='')}",
                         {"action": "transfer", "destination": {"type": "ncco", "ncco": ncco}})

    async def hang_up(self, call_id: str) -> None:
        await self._send("PUT", f"/v1/calls/{quote(call_id, safe='')}", {"action": "hangup"}, ended=call_ended)

    async def send_sms(self, to: str, body: str) -> str:
        if self._sms_auth is None:
            raise ProviderError("Vonage SMS needs the account's api_key and api_secret")
        reply = await self._api.send("POST", "/sms/json", base_url=self._sms_base, data={
            **self._sms_auth, "from": number(self.from_number), "to": number(to), "text": body})
        messages = reply.get("messages") or [{}]
        first = messages[0]
        if str(first.get("status", "")) != "0":
            raise ProviderError(f"Vonage SMS refused: {first.get('error-text') or reply}",
                                code=first.get("status"))
        return str(first["message-id"])

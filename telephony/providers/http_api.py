"""One carrier REST API over httpx, its failures turned into ProviderError the same way for all.

Every carrier's provider (Telnyx, Plivo, Vonage; Twilio's came first and keeps its own) sends
JSON or a form, reads JSON back, and must tell a refusal from a call that has simply ended
(hanging up an ended call is not an error, whatever status the carrier answers it with).  What
differs is where the carrier puts its error message and code in the body: `describe` says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from telephony.providers.base import ProviderError

#: (body) -> (message, code): where a carrier's error body keeps them.
Describe = Callable[[dict[str, Any]], tuple[str | None, int | str | None]]
#: (status, code) -> True when the failure means "that call has already ended".
Ended = Callable[[int, int | str | None], bool]


def never_ended(_status: int, _code: int | str | None) -> bool:
    return False


class CarrierApi:
    def __init__(self, carrier: str, base_url: str, describe: Describe, *, auth: Any = None,
                 headers: dict[str, str] | None = None, timeout_s: float = 10.0):
        self.carrier, self._describe = carrier, describe
        self._base = base_url.rstrip("/")
        self._http = httpx.AsyncClient(auth=auth, timeout=timeout_s,
                                       headers={"Accept": "application/json", **(headers or {})})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, method: str, path: str, *, json: Any = None, data: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                   ended: Ended = never_ended,
                   base_url: str | None = None) -> dict[str, Any]:
        """The reply's JSON body ({} when it has none); ProviderError when the carrier refuses,
        unless `ended` says the refusal only means the call is already over."""
        url = (base_url.rstrip("/") if base_url else self._base) + path
        try:
            response = await self._http.request(method, url, json=json, data=data, params=params,
                                                headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.carrier} request {method} {path} failed: {exc}") from exc
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {"data": body}
        if response.is_success:
            return body
        message, code = self._describe(body)
        if ended(response.status_code, code):
            return body
        raise ProviderError(f"{self.carrier} {method} {path}: {response.status_code} "
                            f"{message or response.text[:200]}", response.status_code, code)


def call_parameters(account_id: str, stage: str | None, attempt: int, locale: str | None) -> dict[str, str]:
    """What a placed call's stream start must name (`telephony/carriers/stream_start.py` reads them)."""
    return {k: v for k, v in {"account": account_id, "stage": stage, "attempt": str(attempt),
                              "locale": locale}.items() if v}

"""The Plivo XML a call fetches: when answered (stream it to us) and when transferred (dial).

    GET /media/plivo/answer?account=..&stage=..   the `answer_url` of a call the provider places
                                                  (or, with ?direction=inbound, of our number:
                                                  the caller's `From` then finds the account)
    GET /media/plivo/transfer?to=..               the `aleg_url` of a transfer

Both must carry Plivo's X-Plivo-Signature-V3 for their URL (the auth token is
`carrier_secrets["plivo"]`); anything else gets 403, since the XML would put a stranger's call
on our line or dial a number of their choosing on our account.  GET is asked for on purpose:
its signature covers the URL alone, which `signature.py` checks.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from telephony.carriers.auth import Access, http_url, signed_urls, stream_url
from telephony.carriers.plivo import xml
from telephony.carriers.plivo.signature import signature_matches
from telephony.carriers.stream_start import start_parameters

ANSWER_PATH = "/media/plivo/answer"
TRANSFER_PATH = "/media/plivo/transfer"
STREAM_PATH = "/media/plivo"


def signed(request: Request, access: Access) -> bool:
    secret = access.secret("plivo")
    return bool(secret) and signature_matches(
        secret, signed_urls(request, http_url(access.public_url) if access.public_url else None),
        request.headers.get("x-plivo-signature-v3-nonce"), request.headers.get("x-plivo-signature-v3"))


def answer_router(access: Access) -> APIRouter:
    router = APIRouter()
    forbidden = Response("a valid X-Plivo-Signature-V3 is required", status_code=403)

    @router.get(ANSWER_PATH, include_in_schema=False)
    async def answer(request: Request) -> Response:
        if not signed(request, access):
            return forbidden
        params = {k: v for k, v in start_parameters(request.query_params).items() if k != "token"}
        if params.get("direction") == "inbound":
            params["caller"] = request.query_params.get("From") or "anonymous"
        if not params.get("account") and params.get("direction") != "inbound":
            return Response("the answer URL names no account", status_code=400)
        url = stream_url(request, access.public_url, STREAM_PATH) + "?" + urlencode(params)
        return Response(xml.stream(url), media_type="application/xml")

    @router.get(TRANSFER_PATH, include_in_schema=False)
    async def transfer(request: Request) -> Response:
        if not signed(request, access):
            return forbidden
        number = request.query_params.get("to")
        if not number:
            return Response("the transfer URL names no number", status_code=400)
        return Response(xml.dial(number, caller_id=request.query_params.get("caller_id")),
                        media_type="application/xml")

    return router

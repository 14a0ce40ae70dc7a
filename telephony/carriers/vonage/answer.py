"""The NCCO a Vonage call fetches when answered: connect its audio to the server's WebSocket.

    GET /media/vonage/answer?account=..&stage=..   the `answer_url` of a call the provider places;
                                                   Vonage adds uuid, conversation_uuid, from, to

Why not an inline NCCO: Vonage's WebSocket sends only the endpoint's `headers`, and the call's
`uuid` (the id transfers and hang-ups take) is known only once the call exists, which is when
Vonage asks this URL.  The request must be a signed webhook (`Authorization: Bearer <JWT>`,
HS256 with the signature secret `carrier_secrets["vonage"]`, as the stream's own handshake);
anything else gets 403.  The endpoint asks Vonage to sign the stream the same way.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from telephony.carriers.auth import Access, bearer, stream_url
from telephony.carriers.stream_start import start_parameters
from telephony.carriers.vonage.signature import jwt_valid

ANSWER_PATH = "/media/vonage/answer"
STREAM_PATH = "/media/vonage"
CONTENT_TYPE = "audio/l16;rate=16000"  # wideband: what the recognisers hear best


def connect_websocket(uri: str, headers: dict[str, str]) -> list[dict]:
    return [{"action": "connect", "endpoint": [{
        "type": "websocket", "uri": uri, "content-type": CONTENT_TYPE, "headers": headers,
        "authorization": {"type": "vonage"}}]}]


def answer_router(access: Access) -> APIRouter:
    router = APIRouter()

    @router.get(ANSWER_PATH, include_in_schema=False)
    async def answer(request: Request) -> Response:
        secret, token = access.secret("vonage"), bearer(request.headers)
        if not (secret and token and jwt_valid(token, secret)):
            return Response("a Vonage-signed JWT (signed webhooks) is required", status_code=403)
        headers = {k: v for k, v in start_parameters(request.query_params).items() if k != "token"}
        uuid = request.query_params.get("uuid")
        if not headers.get("account") or not uuid:
            return Response("the answer URL names no account, or Vonage sent no uuid", status_code=400)
        uri = stream_url(request, access.public_url, STREAM_PATH)
        return JSONResponse(connect_websocket(uri, {**headers, "uuid": uuid}))

    return router

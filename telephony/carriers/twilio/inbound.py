"""A debtor calling our Twilio number back: the voice webhook that streams the call to us.

    POST /media/twilio/voice   Twilio's "A call comes in" webhook (CallSid, From, To, ...),
                               signed with X-Twilio-Signature

It answers with TwiML that connects the call's audio to `/media/twilio`, naming it inbound and
passing the caller's number (`From`): the server finds the account(s) of that number and the
stage script's inbound opening verifies who is calling before any debt detail. Unsigned or
forged requests get 403 (the TwiML would put a stranger's call on our line, billed to us).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from telephony.carriers.auth import Access, stream_url
from telephony.carriers.twilio.status import signed_form, unsigned
from telephony.carriers.twilio.twiml import connect_stream

VOICE_PATH = "/media/twilio/voice"
STREAM_PATH = "/media/twilio"


def inbound_router(access: Access) -> APIRouter:
    router = APIRouter()

    @router.post(VOICE_PATH, include_in_schema=False)
    async def voice(request: Request) -> Response:
        form = await signed_form(request, access)
        if form is None:
            return unsigned()
        parameters = {"direction": "inbound", "caller": form.get("From") or "anonymous"}
        return Response(connect_stream(stream_url(request, access.public_url, STREAM_PATH), parameters),
                        media_type="application/xml")

    return router

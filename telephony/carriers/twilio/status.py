"""Twilio's call status callbacks, so a dialer knows at once that a call was busy or unanswered.

    POST /media/twilio/status   CallSid, CallStatus (queued ringing in-progress completed busy
                                no-answer failed canceled), ... signed with X-Twilio-Signature

The TwilioRestProvider asks for them (`status_callback`) on every call it places.  Each one,
its signature checked (HMAC-SHA1 of the URL and the sorted form parameters with the auth token;
unsigned or forged: 403), becomes a `call.status` event on the live bus's calls channel, keyed
by the carrier's call id like `call.started`, where the provider dialer hears a final "busy",
"no-answer" or "failed" instead of inferring it from a missing stream after the ring time.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from telephony.bus.base import Bus
from telephony.bus.live import CALLS_CHANNEL
from telephony.carriers.auth import Access, signed_urls
from telephony.carriers.twilio.signature import signature_matches

STATUS_PATH = "/media/twilio/status"
STATUSES = {"queued", "initiated", "ringing", "in-progress", "answered", "completed", "busy",
            "no-answer", "failed", "canceled"}


def http_public_url(public_url: str | None) -> str | None:
    """The server's public base for HTTP (wss://host -> https://host): what Twilio signs."""
    if not public_url:
        return None
    scheme, sep, rest = public_url.partition("://")
    return {"wss": "https", "ws": "http"}.get(scheme, scheme) + sep + rest


async def signed_form(request: Request, access: Access) -> dict[str, str] | None:
    """The webhook's form parameters when Twilio signed them for this URL, else None."""
    form = {k: v for k, v in (await request.form()).multi_items() if isinstance(v, str)}
    secret = access.secret("twilio")
    urls = signed_urls(request, http_public_url(access.public_url))
    if not secret or not signature_matches(secret, urls, request.headers.get("x-twilio-signature"), form):
        return None
    return form


def unsigned() -> Response:
    return Response("a valid X-Twilio-Signature is required", status_code=403)


def status_router(access: Access, bus: Bus | None) -> APIRouter:
    router = APIRouter()

    @router.post(STATUS_PATH, include_in_schema=False)
    async def status(request: Request) -> Response:
        form = await signed_form(request, access)
        if form is None:
            return unsigned()
        call_sid, call_status = form.get("CallSid"), form.get("CallStatus")
        if not call_sid or call_status not in STATUSES:
            return Response("CallSid and a known CallStatus are required", status_code=400)
        if bus is not None:
            await bus.publish(CALLS_CHANNEL, {"type": "call.status", "carrier": "twilio",
                                              "carrier_call_id": call_sid, "status": call_status})
        return Response(status_code=204)

    return router

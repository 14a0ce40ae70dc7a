"""Twilio status callbacks: signed, onto the live bus, and a dialer that hears "busy" at once.

The real server (uvicorn on 127.0.0.1, models not loaded: no call is streamed) on a real Redis
bus.  Twilio cannot call back here, so the test posts the callbacks as Twilio does (form fields
CallSid and CallStatus, X-Twilio-Signature computed per Twilio's documentation: HMAC-SHA1 of
the URL followed by each parameter's name and value, sorted by name).  The carrier's REST API is
a FAKE (`FakeTwilioCalls`): it only hands out call ids for the dialer to wait on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid

import httpx
import pytest

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from dialogue.accounts import load_accounts
from media_server import free_port, serving
from telephony.bus.live import CALLS_CHANNEL
from telephony.bus.redis_bus import RedisBus
from telephony.campaign.dialer import CallRequest
from telephony.campaign.provider_dialer import ProviderDialer
from telephony.providers.base import PlacedCall
from voicebot.server import ServerSettings, create_app

AUTH_TOKEN = "status-test-auth-token"
RING_S = 30.0


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url, module_redis_prefix):
    port = free_port()
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=tmp_path_factory.mktemp("calls"),
                              twilio_auth_token=AUTH_TOKEN, call_date=CALL_DATE, warm_up=False)
    app = create_app(settings, bus=RedisBus(redis_url, prefix=module_redis_prefix))
    with serving(app, port):
        yield {"url": f"http://127.0.0.1:{port}/media/twilio/status",
               "bus": lambda: RedisBus(redis_url, prefix=module_redis_prefix)}


def signed(url: str, form: dict[str, str], auth_token: str = AUTH_TOKEN) -> dict[str, str]:
    payload = url + "".join(name + form[name] for name in sorted(form))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return {"X-Twilio-Signature": base64.b64encode(digest).decode()}


def post(url: str, form: dict[str, str], headers: dict[str, str] | None) -> httpx.Response:
    return httpx.post(url, data=form, headers=headers or {}, timeout=10)


class FakeTwilioCalls:
    """Twilio's Calls endpoint, FAKE: every call is queued and nothing rings."""

    name = "twilio"

    def __init__(self):
        self.placed: list[str] = []
        self.hung_up: list[str] = []

    async def place_call(self, to: str, account_id: str, **_options) -> PlacedCall:
        self.placed.append("CA" + uuid.uuid4().hex)
        return PlacedCall(self.placed[-1], to, account_id, "queued")

    async def hang_up(self, call_id: str) -> None:
        self.hung_up.append(call_id)


def test_only_signed_callbacks_reach_the_bus(server):
    form = {"CallSid": "CA" + uuid.uuid4().hex, "CallStatus": "no-answer", "AccountSid": "AC" + "0" * 32}

    async def main():
        bus = server["bus"]()
        async with bus.subscribe(CALLS_CHANNEL) as events:
            unsigned = await asyncio.to_thread(post, server["url"], form, None)
            forged = await asyncio.to_thread(post, server["url"], form, signed(server["url"], form, "not-it"))
            tampered = await asyncio.to_thread(post, server["url"], {**form, "CallStatus": "busy"},
                                               signed(server["url"], form))
            good = await asyncio.to_thread(post, server["url"], form, signed(server["url"], form))
            event = await events.get(timeout=5)
            nothing_else = await events.get(timeout=0.5)
        return [r.status_code for r in (unsigned, forged, tampered, good)], event, nothing_else

    codes, event, nothing_else = asyncio.run(main())
    assert codes == [403, 403, 403, 204]
    assert (event["type"], event["carrier_call_id"], event["status"]) == ("call.status", form["CallSid"], "no-answer")
    assert nothing_else is None


@pytest.mark.parametrize("status, outcome", [("busy", "busy"), ("no-answer", "no_answer"), ("failed", "failed")])
def test_dialer_hears_the_outcome_from_the_callback(server, status, outcome):
    """A busy line is known when Twilio says so, not after the ring time; a ringing status on
    the way does not end the wait, and the call is not hung up (it never connected)."""
    account = {a.id: a for a in load_accounts(SAMPLE_ACCOUNTS)}["EN-EARLY-1"]
    request = CallRequest(account, "early", "en-joe", 1, 1, "c1", CALL_DATE)
    carrier = FakeTwilioCalls()

    async def main():
        dialer = ProviderDialer(carrier, server["bus"](), ring_s=RING_S)
        started = time.monotonic()
        placing = asyncio.create_task(dialer.place(request))
        while not carrier.placed:
            await asyncio.sleep(0.05)
        for call_status in ("ringing", status):
            form = {"CallSid": carrier.placed[0], "CallStatus": call_status}
            reply = await asyncio.to_thread(post, server["url"], form, signed(server["url"], form))
            assert reply.status_code == 204
        answer = await asyncio.wait_for(placing, RING_S)
        return answer, time.monotonic() - started

    answer, took = asyncio.run(main())
    assert answer.status == outcome and took < 5, (answer, took)
    assert carrier.hung_up == []

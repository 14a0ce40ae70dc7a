"""TwilioRestProvider's HTTP calls, against a FAKE of Twilio's REST API.

Twilio's API cannot be reached from here, so a small FastAPI app (run with uvicorn on
127.0.0.1 in this test) stands in for it: it checks what Twilio checks (HTTP basic auth with
the account SID and auth token, the account in the path, required form fields, known call
SIDs), answers with Twilio's JSON shapes and error codes, and records every request so the
tests can look at the form fields and the TwiML the provider sent.  It is a fake: it places
no call.  The signature algorithm is checked against Twilio's documented example instead.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from media_server import free_port, serving
from telephony.providers import Provider, ProviderError
from telephony.carriers.twilio import TwilioRestProvider, signature_matches, twilio_signature
from voicebot.providers.local import LocalProvider

SID, AUTH_TOKEN = "AC" + "0" * 32, "fake-auth-token"
STREAM_URL = "wss://bot.example.com/media/twilio"


def fake_twilio_api() -> tuple[FastAPI, list[dict], set[str]]:
    """Twilio's Calls and Messages endpoints, as far as the provider uses them."""
    app, requests, calls = FastAPI(), [], set()

    def error(status: int, code: int, message: str) -> JSONResponse:
        return JSONResponse({"code": code, "message": message, "status": status}, status_code=status)

    async def checked(request: Request, account: str, required: list[list[str]]):
        form = parse_qs((await request.body()).decode(), keep_blank_values=True)
        requests.append({"path": request.url.path, "form": form})
        expected = "Basic " + base64.b64encode(f"{SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("authorization") != expected or account != SID:
            return error(401, 20003, "Authenticate")
        if request.headers.get("content-type") != "application/x-www-form-urlencoded":
            return error(400, 20001, "expected a form")
        for alternatives in required:
            if not any(form.get(name, [""])[0] for name in alternatives):
                return error(400, 21201, f"No '{alternatives[0]}' number is specified")
        return form

    @app.post("/2010-04-01/Accounts/{account}/Calls.json")
    async def create_call(account: str, request: Request):
        form = await checked(request, account, [["To"], ["From"], ["Twiml", "Url"]])
        if isinstance(form, JSONResponse):
            return form
        sid = "CA" + uuid.uuid4().hex
        calls.add(sid)
        return JSONResponse({"sid": sid, "status": "queued", "to": form["To"][0],
                             "from": form["From"][0]}, status_code=201)

    @app.post("/2010-04-01/Accounts/{account}/Calls/{call_sid}.json")
    async def update_call(account: str, call_sid: str, request: Request):
        form = await checked(request, account, [["Twiml", "Status", "Url"]])
        if isinstance(form, JSONResponse):
            return form
        if call_sid not in calls:
            return error(404, 20404, f"The requested resource {request.url.path} was not found")
        if "Status" in form:
            if form["Status"][0] not in ("completed", "canceled"):
                return error(400, 21220, "Invalid call state")
            calls.discard(call_sid)
        return {"sid": call_sid, "status": form.get("Status", ["in-progress"])[0]}

    @app.post("/2010-04-01/Accounts/{account}/Messages.json")
    async def create_message(account: str, request: Request):
        form = await checked(request, account, [["To"], ["Body"], ["From", "MessagingServiceSid"]])
        if isinstance(form, JSONResponse):
            return form
        return JSONResponse({"sid": "SM" + uuid.uuid4().hex, "status": "queued"}, status_code=201)

    return app, requests, calls


@pytest.fixture(scope="module")
def twilio_api():
    port = free_port()
    app, requests, calls = fake_twilio_api()
    with serving(app, port, start_timeout_s=30):
        yield {"base_url": f"http://127.0.0.1:{port}", "requests": requests, "calls": calls}


def provider(api, **kwargs) -> TwilioRestProvider:
    options = {"from_number": "+15550001111", "stream_url": STREAM_URL, "base_url": api["base_url"], **kwargs}
    return TwilioRestProvider(SID, options.pop("auth_token", AUTH_TOKEN), **options)


def run(coro_fn, api, **kwargs):
    """Run `coro_fn(provider)` with a fresh provider, closing its HTTP client after."""
    async def go():
        twilio = provider(api, **kwargs)
        try:
            return await coro_fn(twilio)
        finally:
            await twilio.aclose()
    return asyncio.run(go())


def twiml(request: dict) -> ET.Element:
    text = request["form"]["Twiml"][0]
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text.split("?>", 1)[1])


def test_signature_matches_twilio_documented_example():
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    signed_with_port = twilio_signature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", params)
    assert signature_matches("12345", [url], signed_with_port, params)
    assert not signature_matches("54321", [url], "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", params)


def test_place_call_connects_a_stream_with_the_account(twilio_api):
    placed = run(lambda t: t.place_call("+12125550103", "EN-LATE-1", stage="late", attempt=2), twilio_api,
                 stream_token="tok", status_callback="https://bot.example.com/status")
    request = twilio_api["requests"][-1]
    form = request["form"]
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Calls.json"
    assert (form["To"], form["From"]) == (["+12125550103"], ["+15550001111"])
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    stream = twiml(request).find("./Connect/Stream")
    assert stream is not None and stream.get("url") == STREAM_URL
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert parameters == {"account": "EN-LATE-1", "stage": "late", "attempt": "2", "token": "tok"}
    assert placed.call_id.startswith("CA") and placed.status == "queued" and placed.call_id in twilio_api["calls"]


def test_twiml_values_are_escaped(twilio_api):
    odd = 'A&B "quoted" <x>'
    run(lambda t: t.place_call("+1", odd), twilio_api)
    stream = twiml(twilio_api["requests"][-1]).find("./Connect/Stream")
    assert {p.get("name"): p.get("value") for p in stream.findall("Parameter")}["account"] == odd


def test_transfer_dials_the_agent_line_and_hang_up_completes(twilio_api):
    async def scenario(twilio):
        placed = await twilio.place_call("+12125550103", "EN-LATE-1")
        await twilio.transfer(placed.call_id, "+18005550199")
        transfer = twilio_api["requests"][-1]
        await twilio.hang_up(placed.call_id)
        hang_up = twilio_api["requests"][-1]
        await twilio.hang_up(placed.call_id)  # already ended (Twilio 20404): not an error
        return placed, transfer, hang_up

    placed, transfer, hang_up = run(scenario, twilio_api, caller_id="+15550001111")
    assert transfer["path"] == f"/2010-04-01/Accounts/{SID}/Calls/{placed.call_id}.json"
    dial = twiml(transfer).find("Dial")
    assert dial is not None and dial.text == "+18005550199" and dial.get("callerId") == "+15550001111"
    assert hang_up["form"] == {"Status": ["completed"]}
    assert placed.call_id not in twilio_api["calls"]


def test_transfer_of_an_unknown_call_is_an_error(twilio_api):
    with pytest.raises(ProviderError) as err:
        run(lambda t: t.transfer("CA" + "f" * 32, "+18005550199"), twilio_api)
    assert (err.value.status, err.value.code) == (404, 20404)


def test_send_sms(twilio_api):
    sid = run(lambda t: t.send_sms("+12065550101", "Cascade Bank: thank you."), twilio_api)
    request = twilio_api["requests"][-1]
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["form"] == {"To": ["+12065550101"], "From": ["+15550001111"], "Body": ["Cascade Bank: thank you."]}
    assert sid.startswith("SM")
    run(lambda t: t.send_sms("+12065550101", "hi"), twilio_api, messaging_service_sid="MG123", from_number=None)
    assert twilio_api["requests"][-1]["form"]["MessagingServiceSid"] == ["MG123"]


def test_wrong_credentials_are_reported(twilio_api):
    with pytest.raises(ProviderError) as err:
        run(lambda t: t.place_call("+12125550103", "EN-LATE-1"), twilio_api, auth_token="wrong")
    assert (err.value.status, err.value.code) == (401, 20003)


def test_both_providers_satisfy_the_protocol(twilio_api):
    twilio = provider(twilio_api)
    try:
        assert isinstance(twilio, Provider) and isinstance(LocalProvider(), Provider)
    finally:
        asyncio.run(twilio.aclose())


def test_local_provider_records_actions_and_unanswered_calls():
    local = LocalProvider("ws://127.0.0.1:9")  # never dialled: these calls do not connect

    async def scenario():
        busy = await local.place_call("+1", "EN-EARLY-1", debtor="<busy>")
        no_answer = await local.place_call("+1", "EN-EARLY-1", debtor="<no-answer>")
        await local.transfer("CA-x", "+18005550199")
        await local.hang_up("CA-x")
        message_id = await local.send_sms("+12065550101", "hello")
        return busy, no_answer, (await local.wait(busy.call_id)).status, message_id

    busy, no_answer, waited, message_id = asyncio.run(scenario())
    assert (busy.status, no_answer.status, waited) == ("busy", "no-answer", "busy")
    assert [t["to"] for t in local.transfers] == ["+18005550199"] and local.hangups[0]["call_id"] == "CA-x"
    assert local.messages == [{"id": message_id, "to": "+12065550101", "body": "hello", "at": local.messages[0]["at"]}]

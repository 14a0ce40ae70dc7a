"""A debtor calling back, over the real server (issue 21): the caller's number finds the
account, identity is verified by voice (date of birth), the call goes on in the stage script,
at 22:00 local time too, when a call to the debtor would be refused.

The real server (uvicorn, real pipeline, Whisper, Piper), the local carrier playing Twilio with
a synthesised debtor; Twilio's own webhook request is built here with its real signature
scheme (Twilio's servers cannot be reached from a test).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import websockets

from conftest import SAMPLE_ACCOUNTS
from media_server import free_port, record_of, serving
from telephony.carriers.twilio.signature import twilio_signature
from voicebot.providers.local import LocalProvider
from voicebot.server import ServerSettings, create_app

TOKEN = "inbound-token"
TWILIO_AUTH_TOKEN = "inbound-twilio-auth-token"
CALLER = "+13125550102"  # Maria Lopez's number (EN-MID-1, born 1979-11-23)
GUESSED = "+13125550177"  # EN-GUESSED-1: John Carter's details (born 1985-03-05) on another number


def zone_at(hour: int) -> str:
    """A fixed-offset zone where the local hour is `hour` now (the server judges the real clock)."""
    now = datetime.now(timezone.utc).hour
    offset = (hour - now + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inbound")
    accounts = json.loads(SAMPLE_ACCOUNTS.read_text())["accounts"]
    late_evening = zone_at(22)
    for account in accounts:
        account["timezone"] = late_evening
    # A second account on Maria's number (a household): the date of birth tells whose call it is.
    accounts.append({**next(a for a in accounts if a["id"] == "EN-EARLY-1"), "id": "EN-SHARED-1",
                     "name": "Ana Lopez", "phone": CALLER, "date_of_birth": "2001-06-09"})
    # A number whose callers have been guessing (issue 19: the lockout of the knowledge check).
    accounts.append({**next(a for a in accounts if a["id"] == "EN-EARLY-1"), "id": "EN-GUESSED-1",
                     "phone": GUESSED})
    path = folder / "accounts.json"
    path.write_text(json.dumps({"accounts": accounts}))
    port = free_port()
    base = f"ws://127.0.0.1:{port}"
    records = folder / "calls"
    carrier = LocalProvider(base, twilio_auth_token=TWILIO_AUTH_TOKEN)
    settings = ServerSettings(accounts_file=path, records_dir=records, tokens=[TOKEN],
                              twilio_auth_token=TWILIO_AUTH_TOKEN, handoff_timeout_s=0)
    app = create_app(settings, provider=carrier)
    with serving(app, port):
        yield {"base": base, "http": f"http://127.0.0.1:{port}", "records": records, "carrier": carrier,
               "settings": settings}


def test_a_callback_at_ten_at_night_is_verified_by_voice_and_goes_on(server):
    carrier: LocalProvider = server["carrier"]

    async def run():
        placed = await carrier.place_call(
            "+15550100", "", inbound_from=CALLER,
            debtor="yes it's me|November twenty third, nineteen seventy nine|I can pay it on Friday|yes")
        return await carrier.wait(placed.call_id, timeout=150)

    result = asyncio.run(run())
    summary = record_of(server["records"], result.call_id)
    assert summary["server"] == f"{socket.gethostname()}:{os.getpid()}"  # the replica that served it
    assert summary["account"] == "EN-MID-1" and summary["direction"] == "inbound"  # the answer picked Maria's account, not Ana's
    events = [e for t in summary["turns"] for e in t.get("events", [])]
    assert "verification_needs_answer" in events and "identity_verified" in events
    said = " ".join(t.get("bot_text") or "" for t in summary["turns"])
    opening = summary["turns"][0].get("bot_text") or ""
    assert "date of birth" in opening and "$860.50" not in opening
    assert "$860.50" in said
    assert summary["outcome"] == "promise_to_pay"


def test_a_call_to_the_debtor_at_that_hour_is_refused(server):
    """The same account, the same minute, dialled by us: the calling window says no."""
    async def run():
        url = f"{server['base']}/media/pcm?token={TOKEN}"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"event": "start", "account": "EN-MID-1", "sample_rate": 8000}))
            try:
                await asyncio.wait_for(ws.recv(), 30)
            except websockets.ConnectionClosed:
                pass
            return ws.close_code, ws.close_reason

    code, reason = asyncio.run(run())
    assert code == 4403, reason


@pytest.mark.parametrize("start,code", [
    ({"direction": "inbound", "caller": "+19995550123"}, 4404),    # no account has that number
    ({"direction": "inbound", "caller": "anonymous"}, 4404),       # withheld: nothing to look up
    ({"direction": "inbound", "caller": "not a number"}, 4422),
    ({"direction": "sideways", "account": "EN-MID-1"}, 4422),
    ({"direction": "inbound", "caller": CALLER, "amd": "true"}, 4422),  # a caller is a person
])
def test_bad_inbound_starts_are_refused_with_their_code(server, start, code):
    async def run():
        url = f"{server['base']}/media/pcm?token={TOKEN}"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"event": "start", "sample_rate": 8000, **start}))
            try:
                await asyncio.wait_for(ws.recv(), 30)
            except websockets.ConnectionClosed:
                pass
            return ws.close_code, ws.close_reason

    got, reason = asyncio.run(run())
    assert got == code, reason


def test_twilios_voice_webhook_streams_the_caller_in_and_refuses_forgeries(server):
    url = f"{server['http']}/media/twilio/voice"
    form = {"CallSid": "CAin1", "From": CALLER, "To": "+18005550199", "Direction": "inbound"}
    signature = twilio_signature(TWILIO_AUTH_TOKEN, url, form)
    answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    assert f'url="{server["base"]}/media/twilio"' in answer.text
    assert '<Parameter name="direction" value="inbound" />' in answer.text
    assert f'<Parameter name="caller" value="{CALLER}" />' in answer.text
    forged = httpx.post(url, data={**form, "From": "+19995550123"}, headers={"X-Twilio-Signature": signature})
    assert forged.status_code == 403
    assert httpx.post(url, data=form).status_code == 403


def test_a_number_whose_callers_keep_failing_the_check_is_locked_out_of_it(server):
    """Three failed callbacks from one number today: the fourth caller says the right date of
    birth twice and is still not let in; the call closes as a failed check, and says so in its
    record (its events), not to the caller."""
    from voicebot.records import RecordStore
    from voicebot.records.models import Call

    store = RecordStore(server["settings"].records_url())
    now = datetime.now(timezone.utc)
    for n in range(3):
        store.submit(lambda db, n=n: db.add(Call(id=f"guess{n}", account_id="EN-GUESSED-1", debtor_name="John Carter",
                                                  phone=GUESSED, locale="en", stage="early", attempt=1, voice="en-joe",
                                                  started_at=now, confidence_threshold=0.5,
                                                  tags=["verification_failed"], tag_text=",verification_failed,")))
    store.flush()
    store.close()
    carrier: LocalProvider = server["carrier"]

    async def run():
        placed = await carrier.place_call("+15550100", "", inbound_from=GUESSED,
                                          debtor="March fifth, nineteen eighty five|March fifth, nineteen eighty five")
        return await carrier.wait(placed.call_id, timeout=120)

    summary = record_of(server["records"], asyncio.run(run()).call_id)
    events = [e for t in summary["turns"] for e in t.get("events", [])]
    assert "verification_locked" in summary["events"]
    assert "identity_verified" not in events and "verification_failed:2" in events
    assert "verification_failed" in summary["tags"]
    said = " ".join(t.get("bot_text") or "" for t in summary["turns"])
    assert "1,250" not in said

"""A call's transfer goes to the carrier its stream came in on, on the real server.

The real server (uvicorn, the real pipeline and models) has two REST providers: Twilio's and
Telnyx's, each pointed at a FAKE of that carrier's API (the carriers cannot be reached from here;
`tests/test_twilio_provider.py` and `tests/fake_carrier_apis.py` hold the fakes).  A Telnyx
stream (the fake Telnyx media client of `tests/carrier_wires.py`) whose debtor asks for a person
is transferred through Telnyx's Call Control API, under the call_control_id the stream named;
Twilio's API hears nothing of it.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest

import fake_carrier_apis as fakes
from carrier_wires import TelnyxWire
from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import free_port, record_of, serving
from telephony.carriers.telnyx.rest import TelnyxRestProvider
from telephony.carriers.twilio import TwilioRestProvider
from test_twilio_provider import AUTH_TOKEN, SID, fake_twilio_api
from voicebot.providers.local.carrier import LocalCallResult, LocalCarrierCall
from voicebot.server import ServerSettings, create_app

TOKEN = "provider-test-token"
CALL_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    telnyx_api, (twilio_app, twilio_requests, _calls) = fakes.telnyx_api(), fake_twilio_api()
    ports = {name: free_port() for name in ("server", "telnyx", "twilio")}
    records = tmp_path_factory.mktemp("calls")
    providers = {
        "telnyx": TelnyxRestProvider(fakes.TELNYX_KEY, from_number="+15550001111",
                                     connection_id=fakes.TELNYX_CONNECTION, stream_token=TOKEN,
                                     stream_url=f"ws://127.0.0.1:{ports['server']}/media/telnyx",
                                     base_url=f"http://127.0.0.1:{ports['telnyx']}"),
        "twilio": TwilioRestProvider(SID, AUTH_TOKEN, from_number="+15550001111",
                                     stream_url=f"ws://127.0.0.1:{ports['server']}/media/twilio",
                                     base_url=f"http://127.0.0.1:{ports['twilio']}"),
    }
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=[TOKEN],
                              call_date=CALL_DATE, handoff_timeout_s=0, contact_history=False)
    app = create_app(settings, providers=providers)
    with serving(telnyx_api.app, ports["telnyx"], 30), serving(twilio_app, ports["twilio"], 30), \
            serving(app, ports["server"]):
        yield {"base": f"ws://127.0.0.1:{ports['server']}", "records": records, "telnyx": telnyx_api,
               "twilio_requests": twilio_requests, "app": app}


async def play(server, wire: TelnyxWire, account: str, script: str) -> LocalCallResult:
    from voicebot.simulate import make_lines, parse_debtor  # heavy: models
    from voicebot.transports.simulated import ScriptedDebtor

    lines = await make_lines(parse_debtor(script), "en-kate", wire.rate)
    result = LocalCallResult(wire.call_sid, account, type(wire).__name__)
    url = server["base"] + wire.path + "?" + urlencode({"account": account})
    call = LocalCarrierCall(url, wire, ScriptedDebtor(lines, wire.rate), result,
                            {"x-telnyx-streaming-auth-token": TOKEN})
    return await asyncio.wait_for(call.run(), CALL_TIMEOUT_S)


def test_a_telnyx_call_is_transferred_through_telnyx_not_twilio(server):
    app = server["app"]
    assert type(app.state.providers["telnyx"]).__name__ == "TelnyxRestProvider"
    assert type(app.state.providers["plivo"]).__name__ == "LocalProvider"  # none of its own: the default
    wire = TelnyxWire({})
    server["telnyx"].calls.add(wire.call_sid)  # Telnyx connected this call: its id is live there
    result = asyncio.run(play(server, wire, "EN-LATE-1", "let me talk to a real person"))
    assert result.error is None and result.close_code == 1000, (result.error, result.close_code, result.close_reason)

    summary = record_of(server["records"], wire.call_sid)
    assert (summary["carrier"], summary["outcome"]) == ("telnyx", "escalated")
    transfer = summary["carrier_actions"][0]
    assert (transfer["kind"], transfer["status"]) == ("transfer", "done"), transfer
    sent = server["telnyx"].of("POST", f"/v2/calls/{wire.call_sid}/actions/transfer")
    assert [r["json"] for r in sent] == [{"to": "1-800-555-0199"}]
    assert sent[0]["headers"]["authorization"] == f"Bearer {fakes.TELNYX_KEY}"
    assert server["twilio_requests"] == []

"""Telnyx, Plivo, Vonage, Asterisk (chan_websocket and AudioSocket), end to end on the real server.

The real server (uvicorn on 127.0.0.1, the real pipeline and models, its AudioSocket listener on
a second port) takes a call from each carrier.  The carriers themselves cannot exist here, so
each is a FAKE media client (`tests/carrier_wires.py`) speaking the carrier's protocol as its
documentation describes it, driven by the local carrier's scripted debtor in real time: the
call starts (the carrier's opening and authentication), the bot speaks (audio comes back in
the carrier's format and framing), the debtor's words and keys are heard (the record's
intents), the bot's last words are confirmed by the carrier's playback mark, and the call
record is written.  The calls run at once (`finished`); each test asserts on its own.
Refusals are raw clients sending exactly the bytes under test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt
import pytest
import websockets

from carrier_wires import AsteriskWire, AudioSocketCall, AudioSocketWire, PlivoWire, TelnyxWire, VonageWire
from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import calls_at_once, free_port, outcome, record_of, serving, summaries
from telephony.carriers.asterisk.audiosocket import frames
from voicebot.providers.local import LocalProvider
from voicebot.providers.local.carrier import LocalCallResult, LocalCarrierCall
from voicebot.server import ServerSettings, create_app

TOKEN = "carrier-test-token"
PLIVO_AUTH_TOKEN = "plivo-test-auth-token"
VONAGE_SECRET = "vonage-test-signature-secret-of-32-bytes"
DEBTOR_VOICE = "en-kate"
CALL_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port, audiosocket_port = free_port(), free_port()
    records = tmp_path_factory.mktemp("calls")
    provider = LocalProvider()  # records the transfers and SMS the dialogue asks the carrier for
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=[TOKEN],
                              carrier_secrets={"plivo": PLIVO_AUTH_TOKEN, "vonage": VONAGE_SECRET},
                              audiosocket_port=audiosocket_port, call_date=CALL_DATE, handoff_timeout_s=0,
                              # Six calls, three accounts, at once: the contact caps are
                              # tests/test_contact_history.py's subject, not these carriers'.
                              contact_history=False)
    app = create_app(settings, provider=provider)
    with serving(app, port):
        yield {"base": f"ws://127.0.0.1:{port}", "http": f"http://127.0.0.1:{port}", "records": records,
               "audiosocket": ("127.0.0.1", audiosocket_port), "provider": provider}


def intents(summary: dict) -> list[str]:
    return [t["nlu"]["intent"] for t in summary["turns"] if t["nlu"]]


def plivo_headers(url: str, auth_token: str = PLIVO_AUTH_TOKEN) -> dict[str, str]:
    """X-Plivo-Signature-V3 as Plivo documents it for a GET: HMAC-SHA256 over the URL without
    its query, then `?` and the query sorted by name, then `.` and the nonce."""
    parts, nonce = urlsplit(url), uuid.uuid4().hex[:20]
    query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(parts.query)))
    signed = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{query}" if query else "") + f".{nonce}"
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha256).digest()
    return {"X-Plivo-Signature-V3": base64.b64encode(digest).decode(), "X-Plivo-Signature-V3-Nonce": nonce}


def vonage_jwt(secret: str = VONAGE_SECRET, issued: float | None = None) -> dict[str, str]:
    """The Authorization header of NCCO `"authorization": {"type": "vonage"}` (HS256 JWT)."""
    claims = {"iat": int(issued or time.time()), "jti": str(uuid.uuid4()), "iss": "Vonage",
              "application_id": str(uuid.uuid4())}
    return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256")}


def asterisk_basic(password: str = TOKEN) -> dict[str, str]:
    """websocket_client.conf username/password: HTTP Basic auth on the upgrade."""
    return {"Authorization": "Basic " + base64.b64encode(f"asterisk:{password}".encode()).decode()}


async def play(server, wire, account: str, script: str, *, query: dict | None = None,
               headers: dict | None = None) -> LocalCallResult:
    from voicebot.simulate import make_lines, parse_debtor  # heavy: models
    from voicebot.transports.simulated import ScriptedDebtor

    lines = await make_lines(parse_debtor(script), DEBTOR_VOICE, wire.rate)
    result = LocalCallResult(wire.call_sid, account, type(wire).__name__)
    debtor = ScriptedDebtor(lines, wire.rate)
    if isinstance(wire, AudioSocketWire):
        call = AudioSocketCall(*server["audiosocket"], wire, debtor, result)
    else:
        url = server["base"] + wire.path + (f"?{urlencode(query)}" if query else "")
        headers = plivo_headers(url) if isinstance(wire, PlivoWire) else headers
        call = LocalCarrierCall(url, wire, debtor, result, headers)
    return await asyncio.wait_for(call.run(), CALL_TIMEOUT_S)


def register_audiosocket(server, token: str | None = TOKEN, **params) -> httpx.Response:
    query = {"token": token} if token else {}
    return httpx.post(f"{server['http']}/media/audiosocket/calls", params=query, json=params, timeout=10)


async def audiosocket_call(server):
    reply = await asyncio.to_thread(register_audiosocket, server, account="EN-LATE-1", stage="late")
    wire = AudioSocketWire(reply.json()["uuid"])
    return wire, await play(server, wire, "EN-LATE-1", "yes this is David|let me talk to a real person")


@pytest.fixture(scope="module")
def finished(request, server):
    telnyx = TelnyxWire({"account": "EN-LATE-1"})
    plivo = PlivoWire("stage=early")
    vonage = VonageWire({"account": "EN-MID-1"})
    asterisk = AsteriskWire()
    asterisk_json = AsteriskWire(json_control=True, channel_variables={"VOICEBOT_ACCOUNT": "EN-EARLY-1"})
    return calls_at_once(request, {
        "test_telnyx_call": lambda: play(server, telnyx, "EN-LATE-1", "yes this is David|let me talk to a real person",
                                         headers={"x-telnyx-streaming-auth-token": TOKEN}),
        "test_plivo_call": lambda: play(server, plivo, "EN-EARLY-1", "yes this is John|I can pay it on Friday|yes",
                                        query={"account": "EN-EARLY-1"}),
        "test_vonage_call_at_16khz": lambda: play(server, vonage, "EN-MID-1", "you have the wrong number",
                                                  headers=vonage_jwt()),
        "test_asterisk_chan_websocket_call": lambda: play(server, asterisk, "EN-EARLY-1", "#0",
                                                          query={"account": "EN-EARLY-1"}, headers=asterisk_basic()),
        "test_asterisk_json_control_messages": lambda: play(server, asterisk_json, "EN-EARLY-1",
                                                            "you have the wrong number", headers=asterisk_basic()),
        "test_audiosocket_call": lambda: audiosocket_call(server),
    }) | {"wires": {"telnyx": telnyx, "plivo": plivo, "vonage": vonage, "asterisk": asterisk,
                    "asterisk_json": asterisk_json}}


def test_telnyx_call(server, finished):
    """Telnyx: stream_auth_token header, custom_parameters, PCMU media events, a mark at the end."""
    result, wire = outcome(finished, "test_telnyx_call"), finished["wires"]["telnyx"]
    assert result.error is None and result.close_code == 1000, (result.error, result.close_code, result.close_reason)
    summary = record_of(server["records"], wire.call_sid)
    assert intents(summary)[:2] == ["confirm_identity", "request_human"], [t["debtor_text"] for t in summary["turns"]]
    assert (summary["carrier"], summary["outcome"], summary["end_mark_played"]) == ("telnyx", "escalated", True)
    assert result.marks == ["call-end"] and result.bot_audio_s > 8 and len(result.latencies_ms) == 2
    media = [m for m in wire.received if m["event"] == "media"]
    assert media and all(set(m) == {"event", "media"} and set(m["media"]) == {"payload"} for m in media)
    # The transfer went to the carrier under Telnyx's own call id (call_control_id).
    assert [t["to"] for t in server["provider"].transfers if t["call_id"] == wire.call_sid] == ["1-800-555-0199"]


def test_plivo_call(server, finished):
    """Plivo: a signed handshake (X-Plivo-Signature-V3), the account in the URL and the stage in
    extra_headers, playAudio in mu-law, a checkpoint answered by playedStream at the end."""
    result, wire = outcome(finished, "test_plivo_call"), finished["wires"]["plivo"]
    assert result.error is None and result.close_code == 1000, (result.error, result.close_code, result.close_reason)
    summary = record_of(server["records"], wire.call_sid)
    assert intents(summary)[:2] == ["confirm_identity", "promise_to_pay"], [t["debtor_text"] for t in summary["turns"]]
    assert (summary["carrier"], summary["outcome"], summary["stage"]) == ("plivo", "promise_to_pay", "early")
    assert summary["end_mark_played"] is True and result.marks == ["call-end"]
    plays = [m for m in wire.received if m["event"] == "playAudio"]
    assert plays and {(m["media"]["contentType"], m["media"]["sampleRate"], m["streamId"]) for m in plays} \
        == {("audio/x-mulaw", 8000, wire.stream_id)}
    assert summary["carrier_actions"][0]["kind"] == "sms"


def test_vonage_call_at_16khz(server, finished):
    """Vonage: a JWT signed with the signature secret, the NCCO headers naming the account,
    16 kHz linear audio back in exactly 20 ms messages, notify echoed at the end."""
    result, wire = outcome(finished, "test_vonage_call_at_16khz"), finished["wires"]["vonage"]
    assert result.error is None and result.close_code == 1000, (result.error, result.close_code, result.close_reason)
    summary = record_of(server["records"], wire.call_sid)
    assert (intents(summary)[:1], summary["outcome"]) == (["wrong_number"], "wrong_party")
    assert (summary["carrier"], summary["stream_sample_rate"], summary["end_mark_played"]) == ("vonage", 16000, True)
    assert wire.audio_sizes == {640}, wire.audio_sizes  # 20 ms of 16-bit audio at 16 kHz, every one
    assert {"action": "notify", "payload": {"name": "call-end"}} in wire.actions
    assert result.bot_audio_s > 5


def test_asterisk_chan_websocket_call(server, finished):
    """Asterisk chan_websocket as it really opens: Basic auth, a plain-text MEDIA_START, the
    account in the v() URI parameters, ulaw in optimal_frame_size blocks, a keypad press
    (DTMF_END), MARK_MEDIA answered by MEDIA_MARK_PROCESSED."""
    result, wire = outcome(finished, "test_asterisk_chan_websocket_call"), finished["wires"]["asterisk"]
    assert result.error is None and result.close_code == 1000, (result.error, result.close_code, result.close_reason)
    summary = record_of(server["records"], wire.call_sid)
    assert [(t["kind"], t["nlu"]["intent"]) for t in summary["turns"] if t["nlu"]] == [("dtmf", "request_human")]
    assert (summary["carrier"], summary["outcome"], summary["end_mark_played"]) == ("asterisk", "escalated", True)
    assert summary["asterisk_format"] == "ulaw" and summary["asterisk_json"] is False
    assert wire.audio_sizes == {160}, wire.audio_sizes
    assert "MARK_MEDIA call-end" in wire.commands and result.bot_audio_s > 5


def test_asterisk_json_control_messages(server, finished):
    """The JSON control format of newer Asterisk releases, the account set as a channel
    variable (VOICEBOT_ACCOUNT); the end mark as JSON MARK_MEDIA / MEDIA_MARK_PROCESSED."""
    result, wire = outcome(finished, "test_asterisk_json_control_messages"), finished["wires"]["asterisk_json"]
    assert result.error is None and result.close_code == 1000, (result.error, result.close_code, result.close_reason)
    summary = record_of(server["records"], wire.call_sid)
    assert (intents(summary)[:1], summary["outcome"]) == (["wrong_number"], "wrong_party")
    assert (summary["carrier"], summary["account"], summary["asterisk_json"]) == ("asterisk", "EN-EARLY-1", True)
    assert summary["end_mark_played"] is True and result.marks == ["call-end"]
    assert json.loads(wire.commands[-1]) == {"command": "MARK_MEDIA", "correlation_id": "call-end"}
    assert wire.audio_sizes == {160}


def test_audiosocket_call(server, finished):
    """AudioSocket: a UUID registered over HTTP, TLV frames over TCP, 20 ms of 8 kHz audio per
    frame sent as it plays, the server's hang-up frame at the end."""
    wire, result = outcome(finished, "test_audiosocket_call")
    assert result.error is None, result.error
    summary = record_of(server["records"], wire.call_sid)
    assert intents(summary)[:2] == ["confirm_identity", "request_human"], [t["debtor_text"] for t in summary["turns"]]
    assert (summary["carrier"], summary["outcome"], summary["account"]) == ("audiosocket", "escalated", "EN-LATE-1")
    assert wire.hung_up_by_server and wire.audio_sizes == {320} and result.bot_audio_s > 8
    assert Path(summary["recording"]).stat().st_size > 8000 * 2 * 2 * 5


# -- refusals, each closing only its own stream --------------------------------------------------
async def closed_with(url: str, messages: list[str | bytes], headers: dict | None = None) -> tuple:
    async def run():
        async with websockets.connect(url, additional_headers=headers or {}, max_size=None) as ws:
            try:
                for message in messages:
                    await ws.send(message)
                async for _ in ws:
                    pass
            except websockets.ConnectionClosed:
                pass
        return ws.close_code, ws.close_reason
    return await asyncio.wait_for(run(), 60)


def telnyx_start(encoding: str = "PCMU", **params) -> list[str]:
    return TelnyxWire({"account": "EN-EARLY-1", **params}).opening()[:1] + [json.dumps({
        "event": "start", "sequence_number": "1", "stream_id": "s1",
        "start": {"call_control_id": "v3:x", "media_format": {"encoding": encoding, "sample_rate": 8000,
                                                              "channels": 1},
                  "custom_parameters": {"account": "EN-EARLY-1", **params}}})]


def test_refusals(server):
    base = server["base"]
    telnyx, plivo, vonage, asterisk = (f"{base}/media/{n}" for n in ("telnyx", "plivo", "vonage", "asterisk"))
    token = {"x-telnyx-streaming-auth-token": TOKEN}
    plivo_url = plivo + "?account=NO-SUCH-ACCOUNT"
    media = json.dumps({"event": "media", "media": {"track": "inbound", "payload": "%%%"}})
    cases = {  # name: (url, messages, headers, expected code)
        "telnyx-no-token": (telnyx, telnyx_start(), None, 4401),
        "telnyx-wrong-token": (telnyx, telnyx_start(), {"x-telnyx-streaming-auth-token": "nope"}, 4401),
        "telnyx-l16": (telnyx, telnyx_start("L16"), token, 4415),
        "telnyx-base64-garbage": (telnyx, telnyx_start() + [media], token, 4415),
        "telnyx-oversized": (telnyx, telnyx_start() + ["x" * 100_000], token, 4413),
        "telnyx-binary": (telnyx, telnyx_start() + [b"\x00" * 160], token, 4400),
        "plivo-forged-signature": (plivo_url, PlivoWire("").opening(), plivo_headers(plivo_url, "not-it"), 4401),
        "plivo-signed-unknown-account": (plivo_url, PlivoWire("").opening(), plivo_headers(plivo_url), 4404),
        "plivo-no-proof": (plivo + "?account=EN-EARLY-1", PlivoWire("").opening(), None, 4401),
        "vonage-wrong-secret": (vonage, VonageWire({"account": "EN-MID-1"}).opening(), vonage_jwt("another-secret-that-is-not-vonages-own"), 4401),
        "vonage-old-jwt": (vonage, VonageWire({"account": "EN-MID-1"}).opening(),
                           vonage_jwt(issued=time.time() - 3600), 4401),
        "vonage-44khz": (vonage, [json.dumps({"event": "websocket:connected", "content-type": "audio/l16;rate=44100",
                                              "account": "EN-MID-1"})], vonage_jwt(), 4415),
        "vonage-odd-audio": (vonage, VonageWire({"account": "EN-MID-1"}).opening() + [b"\x00" * 640, b"\x00" * 641],
                             vonage_jwt(), 4415),
        "asterisk-no-auth": (asterisk + "?account=EN-EARLY-1", AsteriskWire().opening(), None, 4401),
        "asterisk-wrong-password": (asterisk + "?account=EN-EARLY-1", AsteriskWire().opening(),
                                    asterisk_basic("nope"), 4401),
        "asterisk-opus": (asterisk + "?account=EN-EARLY-1", [AsteriskWire().opening()[0].replace("ulaw", "opus")],
                          asterisk_basic(), 4415),
        "asterisk-not-media-start": (asterisk + "?account=EN-EARLY-1", ["STATUS queue_length:0"], asterisk_basic(), 4400),
        "asterisk-garbage": (asterisk + "?account=EN-EARLY-1", ["!!"], asterisk_basic(), 4400),
    }

    async def attempts():
        return await asyncio.gather(*(closed_with(url, messages, headers)
                                      for url, messages, headers, _ in cases.values()))

    for name, (code, reason) in zip(cases, asyncio.run(attempts())):
        assert code == cases[name][3], (name, code, reason)
        assert reason, f"{name}: the close carries a reason"


def test_audiosocket_refusals(server):
    """Registration needs a token and a valid start; an unknown or reused UUID is hung up at once."""
    assert register_audiosocket(server, token=None, account="EN-EARLY-1").status_code == 401
    assert register_audiosocket(server, token="nope", account="EN-EARLY-1").status_code == 401
    bad = register_audiosocket(server, account="EN-EARLY-1", stage="../etc")
    assert bad.status_code == 422 and "not a valid name" in bad.json()["detail"]
    assert register_audiosocket(server, stage="late").status_code == 422  # no account

    async def connect(call_id: str) -> list[int]:
        reader, writer = await asyncio.open_connection(*server["audiosocket"])
        writer.write(frames.Frame(frames.UUID, uuid.UUID(call_id).bytes).encode())
        writer.write(frames.Frame(frames.AUDIO, b"\x00" * 320).encode())
        kinds = []
        while (data := await asyncio.wait_for(frames.read_frame(reader), 30)) is not None:
            kinds.append(frames.decode(data).kind)
        writer.close()
        return kinds

    assert asyncio.run(connect(str(uuid.uuid4()))) == [frames.HANGUP]
    chosen = str(uuid.uuid4())  # a UUID the dialplan made (${UUID()}), registered as is
    reply = register_audiosocket(server, account="NO-SUCH-ACCOUNT", uuid=chosen)
    assert reply.json()["uuid"] == chosen
    assert asyncio.run(connect(chosen)) == [frames.HANGUP]  # an account the server does not hold
    assert asyncio.run(connect(chosen)) == [frames.HANGUP]  # used once
    assert not [s for s in summaries(server["records"]) if s.get("carrier_call_id") == chosen]

"""The Telnyx, Plivo and Vonage REST providers and Asterisk's ARI one, against FAKES of those carriers' APIs.

The carriers' APIs cannot be reached from here: `tests/fake_carrier_apis.py` stands in for each
(uvicorn on 127.0.0.1), checking credentials, paths, bodies and call ids as the carrier does and
answering with its shapes and error codes.  Plivo and Vonage fetch their call's document from
the server (answer URL, transfer URL); those requests are made here as the carrier would make
them, signed, against the server's real routes (each carrier's `routes`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient

import fake_carrier_apis as fakes
from media_server import free_port, serving
from telephony.carriers.asterisk.ari import AsteriskAriProvider, extension
from telephony.carriers.auth import Access
from telephony.carriers.plivo import CARRIER as PLIVO
from telephony.carriers.plivo.rest import PlivoRestProvider
from telephony.carriers.providers import (
    ServerAddress, carrier_providers, check_signing_secrets, providers_from_env,
)
from telephony.carriers.telnyx.rest import TelnyxRestProvider
from telephony.carriers.vonage import CARRIER as VONAGE
from telephony.carriers.vonage.rest import VonageRestProvider
from telephony.providers import Provider, ProviderError
from voicebot.providers.local import LocalProvider

SERVER = "https://bot.example.com"
VONAGE_SIGNATURE_SECRET = "vonage-signature-secret-for-tests-32b"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = RSA_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
PUBLIC_PEM = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def apis():
    built = {"telnyx": fakes.telnyx_api(), "plivo": fakes.plivo_api(), "vonage": fakes.vonage_api(PUBLIC_PEM),
             "ari": fakes.ari_api()}
    ports = {name: free_port() for name in built}
    with serving(built["telnyx"].app, ports["telnyx"], 30), serving(built["plivo"].app, ports["plivo"], 30), \
            serving(built["vonage"].app, ports["vonage"], 30), serving(built["ari"].app, ports["ari"], 30):
        yield {name: (api, f"http://127.0.0.1:{ports[name]}") for name, api in built.items()}


def telnyx(apis, api_key: str = fakes.TELNYX_KEY) -> TelnyxRestProvider:
    return TelnyxRestProvider(api_key, from_number="+15550001111", connection_id=fakes.TELNYX_CONNECTION,
                              stream_url="wss://bot.example.com/media/telnyx", stream_token="tok",
                              base_url=apis["telnyx"][1])


def plivo(apis, auth_token: str = fakes.PLIVO_TOKEN) -> PlivoRestProvider:
    return PlivoRestProvider(fakes.PLIVO_ID, auth_token, from_number="+15550001111", server_url=SERVER,
                             base_url=apis["plivo"][1])


def vonage(apis) -> VonageRestProvider:
    base = apis["vonage"][1]
    return VonageRestProvider(fakes.VONAGE_APP, PRIVATE_PEM, from_number="+15550001111", server_url=SERVER,
                              api_key=fakes.VONAGE_KEY, api_secret=fakes.VONAGE_SECRET, base_url=base,
                              sms_base_url=base)


def run(provider, scenario):
    async def go():
        try:
            return await scenario(provider)
        finally:
            await provider.aclose()
    return asyncio.run(go())


def carrier_routes(carrier, access: Access) -> TestClient:
    app = FastAPI()
    app.include_router(carrier.routes(access))
    return TestClient(app, base_url=SERVER)


# --- Telnyx -------------------------------------------------------------------------------

def test_telnyx_places_a_streamed_call_transfers_and_hangs_up(apis):
    api, _ = apis["telnyx"]

    async def scenario(t):
        placed = await t.place_call("+12125550103", "EN-LATE-1", stage="late", attempt=2)
        await t.transfer(placed.call_id, "+18005550199")
        await t.hang_up(placed.call_id)
        await t.hang_up(placed.call_id)  # already ended (Telnyx 90018): not an error
        return placed

    placed = run(telnyx(apis), scenario)
    dial = api.of("POST", "/v2/calls")[-1]
    assert dial["headers"]["authorization"] == f"Bearer {fakes.TELNYX_KEY}"
    body = dial["json"]
    assert (body["to"], body["from"]) == ("+12125550103", "+15550001111")
    assert body["connection_id"] == fakes.TELNYX_CONNECTION
    assert (body["stream_track"], body["stream_bidirectional_mode"], body["stream_bidirectional_codec"],
            body["stream_auth_token"]) == ("both_tracks", "rtp", "PCMU", "tok")
    stream = urlsplit(body["stream_url"])
    assert stream.path == "/media/telnyx"
    assert parse_qs(stream.query) == {"account": ["EN-LATE-1"], "stage": ["late"], "attempt": ["2"]}
    assert placed.call_id.startswith("v3:") and placed.call_id in api.ended
    transfer = api.of("POST", f"/v2/calls/{placed.call_id}/actions/transfer")
    assert [r["json"] for r in transfer] == [{"to": "+18005550199"}]
    assert len(api.of("POST", f"/v2/calls/{placed.call_id}/actions/hangup")) == 2


def test_telnyx_refusals_carry_its_codes(apis):
    with pytest.raises(ProviderError) as unknown:
        run(telnyx(apis), lambda t: t.transfer("v3:never-issued", "+18005550199"))
    assert (unknown.value.status, unknown.value.code) == (404, "10005")
    with pytest.raises(ProviderError) as denied:
        run(telnyx(apis, api_key="KEYwrong"), lambda t: t.place_call("+12125550103", "EN-LATE-1"))
    assert (denied.value.status, denied.value.code) == (401, "10009")
    assert "Authentication failed" in str(denied.value)


def test_telnyx_sms(apis):
    api, _ = apis["telnyx"]
    message_id = run(telnyx(apis), lambda t: t.send_sms("+12065550101", "Cascade Bank: thank you."))
    assert api.requests[-1]["json"] == {"to": "+12065550101", "text": "Cascade Bank: thank you.",
                                        "from": "+15550001111"}
    assert uuid.UUID(message_id)


# --- Plivo --------------------------------------------------------------------------------

def test_plivo_call_fetches_its_stream_from_the_server_and_is_transferred(apis):
    api, _ = apis["plivo"]
    placed = run(plivo(apis), lambda p: p.place_call("+12125550103", "EN-LATE-1", stage="late"))
    body = api.of("POST", f"/v1/Account/{fakes.PLIVO_ID}/Call/")[-1]["json"]
    assert (body["from"], body["to"], body["answer_method"]) == ("+15550001111", "+12125550103", "GET")
    assert uuid.UUID(placed.call_id)  # Plivo's request_uuid until the call is answered

    # Plivo answers the call: it GETs the answer URL with the call's own parameters, signed.
    routes = carrier_routes(PLIVO, Access(secrets={"plivo": fakes.PLIVO_TOKEN}, public_url="wss://bot.example.com"))
    call_uuid = str(uuid.uuid4())
    answer_url = body["answer_url"] + f"&CallUUID={call_uuid}&From=%2B15550001111&To=%2B12125550103"
    reply = routes.get(answer_url, headers=fakes.plivo_signs(answer_url, fakes.PLIVO_TOKEN))
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/xml")
    stream = ET.fromstring(reply.text.split("?>", 1)[1]).find("Stream")
    assert stream.get("bidirectional") == "true" and stream.get("contentType") == "audio/x-mulaw;rate=8000"
    url = urlsplit(stream.text)
    assert (url.scheme, url.netloc, url.path) == ("wss", "bot.example.com", "/media/plivo")
    assert parse_qs(url.query) == {"account": ["EN-LATE-1"], "stage": ["late"], "attempt": ["1"]}
    assert routes.get(answer_url).status_code == 403  # unsigned
    assert routes.get(answer_url, headers=fakes.plivo_signs(answer_url, "another-token")).status_code == 403

    api.calls.add(call_uuid)  # the answered call, as the stream's callId names it

    async def scenario(p):
        await p.transfer(call_uuid, "+18005550199")
        await p.hang_up(call_uuid)
        await p.hang_up(call_uuid)  # Plivo no longer has it (404): not an error
    run(plivo(apis), scenario)
    transfer = api.of("POST", f"/v1/Account/{fakes.PLIVO_ID}/Call/{call_uuid}/")[-1]["json"]
    assert (transfer["legs"], transfer["aleg_method"]) == ("aleg", "GET")
    dial = routes.get(transfer["aleg_url"], headers=fakes.plivo_signs(transfer["aleg_url"], fakes.PLIVO_TOKEN))
    number = ET.fromstring(dial.text.split("?>", 1)[1]).find("./Dial/Number")
    assert number is not None and number.text == "+18005550199"
    assert len(api.of("DELETE", f"/v1/Account/{fakes.PLIVO_ID}/Call/{call_uuid}/")) == 2


def test_plivo_refusals_and_sms(apis):
    api, _ = apis["plivo"]
    with pytest.raises(ProviderError) as unknown:
        run(plivo(apis), lambda p: p.transfer(str(uuid.uuid4()), "+18005550199"))
    assert unknown.value.status == 404 and "not found" in str(unknown.value)
    with pytest.raises(ProviderError) as denied:
        run(plivo(apis, auth_token="wrong"), lambda p: p.send_sms("+12065550101", "hi"))
    assert denied.value.status == 401
    message_id = run(plivo(apis), lambda p: p.send_sms("+12065550101", "Cascade Bank: thank you."))
    assert api.requests[-1]["json"] == {"src": "+15550001111", "dst": "+12065550101",
                                        "text": "Cascade Bank: thank you."}
    assert uuid.UUID(message_id)


# --- Vonage -------------------------------------------------------------------------------

def signed_webhook(secret: str = VONAGE_SIGNATURE_SECRET) -> dict[str, str]:
    claims = {"iat": int(time.time()), "jti": str(uuid.uuid4()), "iss": "Vonage", "application_id": fakes.VONAGE_APP}
    return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256")}


def test_vonage_call_fetches_its_ncco_with_its_uuid_and_is_transferred(apis):
    api, _ = apis["vonage"]

    async def scenario(v):
        placed = await v.place_call("+12125550103", "EN-LATE-1", stage="late")
        await v.transfer(placed.call_id, "+18005550199")
        await v.hang_up(placed.call_id)
        await v.hang_up(placed.call_id)  # Vonage no longer has it (404): not an error
        return placed

    placed = run(vonage(apis), scenario)
    create = api.of("POST", "/v1/calls")[-1]
    claims = jwt.decode(create["headers"]["authorization"].split()[1], PUBLIC_PEM, algorithms=["RS256"])
    assert claims["application_id"] == fakes.VONAGE_APP and claims["exp"] > claims["iat"]
    body = create["json"]
    assert body["to"] == [{"type": "phone", "number": "12125550103"}] and body["answer_method"] == "GET"
    transfer, *hangups = api.of("PUT", f"/v1/calls/{placed.call_id}")
    assert transfer["json"]["destination"]["ncco"][0]["endpoint"] == [{"type": "phone", "number": "18005550199"}]
    assert [h["json"] for h in hangups] == [{"action": "hangup"}] * 2

    # Vonage answers the call: it GETs the answer URL with the call's uuid, a signed webhook.
    routes = carrier_routes(VONAGE, Access(secrets={"vonage": VONAGE_SIGNATURE_SECRET},
                                           public_url="wss://bot.example.com"))
    answer_url = body["answer_url"][0] + f"&uuid={placed.call_id}&conversation_uuid=CON-1&from=15550001111"
    ncco = routes.get(answer_url, headers=signed_webhook()).json()
    endpoint = ncco[0]["endpoint"][0]
    assert (ncco[0]["action"], endpoint["type"], endpoint["uri"]) == ("connect", "websocket",
                                                                      "wss://bot.example.com/media/vonage")
    assert endpoint["headers"] == {"account": "EN-LATE-1", "stage": "late", "attempt": "1", "uuid": placed.call_id}
    assert routes.get(answer_url).status_code == 403
    assert routes.get(answer_url, headers=signed_webhook("not-the-signature-secret-of-this-account")).status_code == 403


def test_vonage_sms_and_its_refusals(apis):
    api, _ = apis["vonage"]
    message_id = run(vonage(apis), lambda v: v.send_sms("+12065550101", "Cascade Bank: thank you."))
    assert api.requests[-1]["form"]["to"] == "12065550101" and message_id
    bad = VonageRestProvider(fakes.VONAGE_APP, PRIVATE_PEM, from_number="+15550001111", server_url=SERVER,
                             api_key=fakes.VONAGE_KEY, api_secret="wrong", sms_base_url=apis["vonage"][1])
    with pytest.raises(ProviderError, match="Bad Credentials"):
        run(bad, lambda v: v.send_sms("+12065550101", "hi"))
    with pytest.raises(ProviderError) as unknown:
        run(vonage(apis), lambda v: v.transfer(str(uuid.uuid4()), "+18005550199"))
    assert unknown.value.status == 404
    with pytest.raises(ValueError, match="private key"):
        VonageRestProvider(fakes.VONAGE_APP, "not a key", from_number="+1555", server_url=SERVER)


# --- Asterisk ARI ---------------------------------------------------------------------------

def ari(apis, password: str = fakes.ARI_PASSWORD) -> AsteriskAriProvider:
    return AsteriskAriProvider(apis["ari"][1], fakes.ARI_USER, password, transfer_context="agents")


def test_ari_transfer_moves_the_caller_to_the_dialplan_and_drops_the_bot_leg(apis):
    api, _ = apis["ari"]
    caller, media = "1733480000.101", "voicebot-" + uuid.uuid4().hex  # media: the stream's call id
    api.bridge(caller, media)
    run(ari(apis), lambda a: a.transfer(media, "1-800-555-0199"))
    moved = api.of("POST", f"/ari/channels/{caller}/continue")
    assert [r["query"] for r in moved] == [{"context": "agents", "extension": "18005550199", "priority": "1"}]
    assert caller not in api.stasis and caller in api.calls  # in the dialplan now, dialling the agents
    assert media not in api.calls and api.of("DELETE", f"/ari/channels/{media}")


def test_ari_transfer_sends_the_number_as_a_dialplan_extension(apis):
    api, _ = apis["ari"]
    caller, media = "1733480000.102", str(uuid.uuid4())
    api.bridge(caller, media)
    run(ari(apis), lambda a: a.transfer(media, "+1 (800) 555-0199"))
    moved = api.of("POST", f"/ari/channels/{caller}/continue")
    assert [r["query"]["extension"] for r in moved] == ["+18005550199"]
    assert extension("sip:agent7@desk.example") == "sip:agent7@desk.example"  # a desk endpoint, as it is


def test_ari_hang_up_ends_every_channel_of_the_call_and_a_gone_one_is_no_error(apis):
    api, _ = apis["ari"]
    caller, media = "1733480000.103", str(uuid.uuid4())
    api.bridge(caller, media)

    async def scenario(a):
        await a.hang_up(media)
        await a.hang_up(media)  # already gone (404): not an error
    run(ari(apis), scenario)
    assert not {caller, media} & api.calls


def test_ari_refusals(apis):
    api, _ = apis["ari"]
    api.calls.add("1733480000.104")  # a channel in the dialplan, in no Stasis application
    with pytest.raises(ProviderError) as not_in_stasis:
        run(ari(apis), lambda a: a.transfer("1733480000.104", "18005550199"))
    assert not_in_stasis.value.status == 409 and "not in Stasis" in str(not_in_stasis.value)
    with pytest.raises(ProviderError) as denied:
        run(ari(apis, password="wrong"), lambda a: a.hang_up("1733480000.104"))
    assert denied.value.status == 401
    with pytest.raises(ProviderError, match="no SMS"):
        run(ari(apis), lambda a: a.send_sms("+12065550101", "hi"))


# --- choosing a call's provider ---------------------------------------------------------------

def test_every_provider_satisfies_the_protocol(apis):
    for provider in (telnyx(apis), plivo(apis), vonage(apis), ari(apis)):
        assert isinstance(provider, Provider)
        asyncio.run(provider.aclose())


def test_each_carrier_gets_its_own_provider_or_the_default():
    default, own = LocalProvider(), LocalProvider()
    chosen = carrier_providers(default, {"telnyx": own})
    assert chosen["telnyx"] is own and chosen["twilio"] is default and chosen["audiosocket"] is default
    with pytest.raises(ValueError, match="unknown carriers telnix"):
        carrier_providers(default, {"telnix": own})


def test_providers_from_the_environment(tmp_path):
    server = ServerAddress("wss://bot.example.com", "tok")
    assert providers_from_env({}, server) == {}
    with pytest.raises(ValueError, match="PLIVO_AUTH_TOKEN, PLIVO_FROM_NUMBER missing"):
        providers_from_env({"PLIVO_AUTH_ID": "MA1"}, server)
    with pytest.raises(ValueError, match="give --token"):
        providers_from_env({"TELNYX_API_KEY": "KEY", "TELNYX_FROM_NUMBER": "+1555"}, ServerAddress("wss://b"))
    key = tmp_path / "private.key"
    key.write_text(PRIVATE_PEM)
    built = providers_from_env({"TELNYX_API_KEY": "KEY", "TELNYX_FROM_NUMBER": "+1555", "PLIVO_AUTH_ID": "MA1",
                                "PLIVO_AUTH_TOKEN": "t", "PLIVO_FROM_NUMBER": "+1555",
                                "VONAGE_APPLICATION_ID": "app", "VONAGE_PRIVATE_KEY": str(key),
                                "VONAGE_FROM_NUMBER": "+1555", "ASTERISK_ARI_URL": "http://pbx:8088",
                                "ASTERISK_ARI_USER": "voicebot", "ASTERISK_ARI_PASSWORD": "p"}, server)
    assert {name: type(p).__name__ for name, p in built.items()} == {
        "telnyx": "TelnyxRestProvider", "plivo": "PlivoRestProvider", "vonage": "VonageRestProvider",
        "asterisk": "AsteriskAriProvider", "audiosocket": "AsteriskAriProvider"}
    assert built["telnyx"].stream_url == "wss://bot.example.com/media/telnyx"
    assert built["plivo"].server_url == built["vonage"].server_url == "https://bot.example.com"
    with pytest.raises(ValueError, match="--carrier-secret vonage=<the Vonage signature secret>"):
        check_signing_secrets(built, {"plivo": "t"})
    check_signing_secrets(built, {"plivo": "t", "vonage": "s"})
    for provider in built.values():
        asyncio.run(provider.aclose())

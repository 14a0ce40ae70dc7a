"""The media-stream server, end to end: the real server (uvicorn on 127.0.0.1, a free port, in a
thread), the real pipeline and models, and clients that speak each protocol over real sockets.

Calls run in real time (the server paces audio as a phone line does), so the debtor scripts are
short, and the module's full calls are placed at the same time (`finished` below); each test
asserts on its own call's result.  The local carrier (LocalProvider) plays Twilio, or a PCM
switch, with a scripted debtor whose lines are synthesised before the call.  Malformed and unauthenticated connections are
raw WebSocket clients sending exactly the bytes under test.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
import websockets
from loguru import logger

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import calls_at_once, free_port, outcome, record_of, serving, summaries
from telephony.carriers.twilio.signature import twilio_signature
from voicebot.providers.local import LocalProvider
from voicebot.server import ServerSettings, create_app

TOKEN = "test-token"
TWILIO_AUTH_TOKEN = "test-twilio-auth-token"
CALL_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The server, and the LocalProvider it reports transfers, hang-ups and SMS to."""
    port = free_port()
    base = f"ws://127.0.0.1:{port}"
    records = tmp_path_factory.mktemp("calls")
    # The carrier the server reports to is also the Twilio-speaking client of the first test,
    # so a transfer the server asks for ends that client's stream, as Twilio would.
    carrier = LocalProvider(base, twilio_auth_token=TWILIO_AUTH_TOKEN)
    # No agent desk here: transfers go straight to the queue's line (tests/test_live_handoff.py
    # holds calls for a desk).
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=[TOKEN],
                              twilio_auth_token=TWILIO_AUTH_TOKEN, call_date=CALL_DATE,
                              handoff_timeout_s=0)
    ended: list[dict] = []
    app = create_app(settings, provider=carrier, on_call_end=[ended.append])
    log: list[tuple[str | None, str]] = []  # (the line's call id, its message)
    sink = logger.add(lambda m: log.append((m.record["extra"].get("call_id"), m.record["message"])),
                      level="INFO")
    try:
        with serving(app, port):
            yield {"base": base, "records": records, "carrier": carrier, "ended": ended, "log": log}
    finally:
        logger.remove(sink)


def intents(summary: dict) -> list[str]:
    return [t["nlu"]["intent"] for t in summary["turns"] if t["nlu"]]


async def call(provider: LocalProvider, account: str, debtor: str, **kwargs):
    placed = await provider.place_call("+15550100", account, debtor=debtor, **kwargs)
    return await provider.wait(placed.call_id, timeout=CALL_TIMEOUT_S)


async def closed_with(url: str, messages: list[str | bytes], headers: dict | None = None) -> tuple:
    """Send `messages`, read until the server closes; (close code, reason)."""
    async def run():
        async with websockets.connect(url, additional_headers=headers or {}, max_size=None) as ws:
            try:
                for message in messages:
                    await ws.send(message)
                async for _ in ws:  # a started call streams its greeting before the bad message lands
                    pass
            except websockets.ConnectionClosed:
                pass
        return ws.close_code, ws.close_reason
    return await asyncio.wait_for(run(), 60)


def twilio_start(account: str | None = "EN-EARLY-1", encoding: str = "audio/x-mulaw", rate: int = 8000,
                 **params) -> list[str]:
    custom = {"account": account, **params} if account else params
    start = {"streamSid": "MZtest", "callSid": "CAtest", "accountSid": "ACtest", "customParameters": custom,
             "mediaFormat": {"encoding": encoding, "sampleRate": rate, "channels": 1}}
    return [json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
            json.dumps({"event": "start", "sequenceNumber": "1", "start": start, "streamSid": "MZtest"})]


def media(payload: str) -> str:
    return json.dumps({"event": "media", "streamSid": "MZtest", "media": {"payload": payload}})


SILENCE = media(base64.b64encode(b"\xff" * 160).decode())  # 20 ms of mu-law silence


def pcm_start(account: str = "EN-EARLY-1", rate: int = 8000, **extra) -> str:
    return json.dumps({"event": "start", "account": account, "sample_rate": rate, **extra})


# -- protocol errors, each closing only its own stream ------------------------------------------
MALFORMED = {
    # name: (endpoint, messages, expected close code)
    "twilio-bad-json-before-start": ("twilio", ["{not json"], 4400),
    "twilio-bad-json-mid-call": ("twilio", twilio_start() + [SILENCE, "{\"event\": \"media\", "], 4400),
    "twilio-base64-garbage": ("twilio", twilio_start() + [SILENCE, media("%%% not base64 %%%")], 4415),
    "twilio-wrong-encoding": ("twilio", twilio_start(encoding="audio/l16", rate=16000), 4415),
    "twilio-oversized-frame": ("twilio", twilio_start() + [media("A" * 100_000)], 4413),
    "twilio-binary-frame": ("twilio", twilio_start() + [b"\x00" * 160], 4400),
    "twilio-unknown-account": ("twilio", twilio_start("NO-SUCH-ACCOUNT"), 4404),
    "twilio-start-without-account": ("twilio", twilio_start(None, stage="late"), 4422),
    "twilio-unknown-stage": ("twilio", twilio_start(stage="final-demand"), 4422),
    "pcm-odd-length-audio": ("pcm", [pcm_start(), b"\x00" * 320, b"\x00" * 321], 4415),
    "pcm-wrong-rate": ("pcm", [pcm_start(rate=44100)], 4415),
    "pcm-audio-before-start": ("pcm", [b"\x00" * 320], 4400),
    "pcm-oversized-frame": ("pcm", [pcm_start(), b"\x00" * 100_000], 4413),
    "pcm-bad-json": ("pcm", [pcm_start(), "{\"event\": dtmf}"], 4400),
}


# -- the full calls, placed at once; each test below asserts on its own -------------------------
async def twilio_call_among_malformed_streams(server):
    carrier: LocalProvider = server["carrier"]
    good = asyncio.create_task(call(carrier, "EN-LATE-1", "yes this is David|let me talk to a real person"))
    await asyncio.sleep(1.0)  # the call is up and the bot is greeting
    bad = await asyncio.gather(*(closed_with(f"{server['base']}/media/{endpoint}?token={TOKEN}", messages)
                                 for endpoint, messages, _ in MALFORMED.values()))
    return await good, dict(zip(MALFORMED, bad))


async def pcm_call_at_16khz(server):
    client = LocalProvider(server["base"], token=TOKEN, token_in="header", protocol="pcm", sample_rate=16000,
                           debtor_voice="en-kate")  # the bot speaks with en-joe at this stage
    return await call(client, "EN-EARLY-1", "yes this is John|I can pay it on Friday|yes")


async def two_calls(server):
    by_query = LocalProvider(server["base"], token=TOKEN, token_in="query", debtor_voice="en-kate")
    by_parameter = LocalProvider(server["base"], token=TOKEN, token_in="parameter", debtor_voice="en-kate")
    return await asyncio.gather(call(by_query, "EN-EARLY-1", "#0"),
                                call(by_parameter, "EN-MID-1", "you have the wrong number"))


@pytest.fixture(scope="module")
def finished(request, server):
    return calls_at_once(request, {
        "test_twilio_call_completes_while_malformed_streams_are_refused":
            lambda: twilio_call_among_malformed_streams(server),
        "test_pcm_call_at_16khz": lambda: pcm_call_at_16khz(server),
        "test_two_calls_at_once": lambda: two_calls(server),
    })


def test_twilio_call_completes_while_malformed_streams_are_refused(server, finished):
    """A full call over Twilio Media Streams (signed as Twilio signs), with a dozen malformed
    streams opened during it: each is closed with its code, and the call is unharmed."""
    carrier: LocalProvider = server["carrier"]
    result, refused = outcome(finished, "test_twilio_call_completes_while_malformed_streams_are_refused")
    for name, (_endpoint, _messages, code) in MALFORMED.items():
        assert refused[name][0] == code, (name, refused[name])
        assert refused[name][1], f"{name}: the close carries a reason"
    assert "not valid JSON" in refused["twilio-bad-json-mid-call"][1]
    assert "NO-SUCH-ACCOUNT" in refused["twilio-unknown-account"][1]

    summary = record_of(server["records"], result.call_id)
    assert intents(summary)[:2] == ["confirm_identity", "request_human"], [t["debtor_text"] for t in summary["turns"]]
    assert summary["outcome"] == "escalated" and summary["ended_by"] == "bot"
    # The transfer reached the carrier after the bot's last words (the end mark was echoed),
    # and the carrier ended the stream, as Twilio does when a call is redirected to <Dial>.
    assert [t["to"] for t in carrier.transfers if t["call_id"] == result.call_id] == ["1-800-555-0199"]
    assert summary["carrier_actions"] == [{"kind": "transfer", "status": "done", "to": "1-800-555-0199",
                                           "queue": "collections", "reason": "request_human"}]
    assert result.marks == ["call-end"] and summary["end_mark_played"] is True
    assert result.status == "transferred" and result.error is None
    assert len(result.latencies_ms) == 2 and result.bot_audio_s > 10
    assert Path(summary["recording"]).stat().st_size > 8000 * 2 * 2 * 10  # stereo, 10 s or more
    # A stream refused mid-call leaves a record saying why it ended.
    cut = summaries(server["records"])
    assert any(s.get("close", {}).get("code") == 4415 and s["ended_by"] == "protocol_error" for s in cut)


def test_pcm_call_at_16khz(server, finished):
    """A full call over the raw PCM protocol (16 kHz, Bearer token), with the SMS the dialogue
    sends after a promise handed to the carrier."""
    result = outcome(finished, "test_pcm_call_at_16khz")
    assert result.status == "completed" and result.close_code == 1000 and result.error is None
    summary = record_of(server["records"], result.call_id)
    assert intents(summary)[:2] == ["confirm_identity", "promise_to_pay"], [t["debtor_text"] for t in summary["turns"]]
    assert summary["outcome"] == "promise_to_pay"
    assert (summary["carrier"], summary["stream_sample_rate"]) == ("pcm", 16000)
    action = summary["carrier_actions"][0]
    # The record keeps the debtor's number masked; the carrier was given it whole.
    assert (action["kind"], action["status"], action["to"]) == ("sms", "sent", "+*******0101")
    sent = [m for m in server["carrier"].messages if m["id"] == action["message_id"]]
    assert len(sent) == 1 and sent[0]["body"].startswith("Cascade Bank: thank you. We noted that you will pay on")
    assert sent[0]["to"] == "+12065550101"
    assert len(result.latencies_ms) == 3 and result.bot_audio_s > 10


def test_two_calls_at_once(server, finished):
    """Two Twilio calls in parallel, one authenticated by ?token=, one by a `token` stream
    parameter (how a real Twilio <Stream> passes it): both complete with their own outcome.
    The first debtor presses 0 on the keypad (a Twilio `dtmf` event) to reach a person."""
    first, second = outcome(finished, "test_two_calls_at_once")
    a, b = record_of(server["records"], first.call_id), record_of(server["records"], second.call_id)
    assert a["call_id"] != b["call_id"]
    # The two calls' log lines interleave; each carries its own call's id.
    for record in (a, b):
        ended = [cid for cid, message in server["log"] if message.startswith(f"call {record['call_id']} ended by")]
        assert ended == [record["call_id"]], server["log"][-20:]
    assert [(t["kind"], t["nlu"]["intent"]) for t in a["turns"] if t["nlu"]] == [("dtmf", "request_human")]
    assert a["outcome"] == "escalated"
    assert (intents(b)[:1], b["outcome"]) == (["wrong_number"], "wrong_party")
    assert first.marks == second.marks == ["call-end"]
    assert any(t["call_id"] == first.call_id for t in server["carrier"].transfers)
    # A dialer in the server's process hears of each call's end, keyed by the carrier's call id.
    assert {first.call_id, second.call_id} <= {s["carrier_call_id"] for s in server["ended"]}


# -- authentication ----------------------------------------------------------------------------
def test_unauthenticated_connections_are_refused(server):
    base = server["base"]

    async def attempts():
        return await asyncio.gather(
            closed_with(f"{base}/media/pcm", [pcm_start()]),
            closed_with(f"{base}/media/pcm?token=wrong", [pcm_start()]),
            closed_with(f"{base}/media/twilio", twilio_start()),
            closed_with(f"{base}/media/twilio", ["{not json"]),  # says nothing to a stranger but 4401
            closed_with(f"{base}/media/twilio", twilio_start(token="wrong")),
        )

    pcm_none, pcm_wrong, twilio_none, twilio_garbage, twilio_wrong = asyncio.run(attempts())
    assert pcm_none[0] == 4401 and "authentication required" in pcm_none[1]
    assert pcm_wrong == (4401, "invalid token")
    assert twilio_none[0] == 4401 and "authentication required" in twilio_none[1]
    assert twilio_garbage[0] == 4401
    assert twilio_wrong == (4401, "invalid token")


def test_twilio_signature_is_checked(server):
    url = f"{server['base']}/media/twilio"
    good = {"X-Twilio-Signature": twilio_signature(TWILIO_AUTH_TOKEN, url)}
    forged = {"X-Twilio-Signature": twilio_signature("not-the-auth-token", url)}
    other_url = {"X-Twilio-Signature": twilio_signature(TWILIO_AUTH_TOKEN, url + "?x=1")}

    async def attempts():
        # With a valid signature the stream gets as far as the account check.
        return await asyncio.gather(closed_with(url, twilio_start("NO-SUCH-ACCOUNT"), good),
                                    closed_with(url, twilio_start(), forged),
                                    closed_with(url, twilio_start(), other_url))

    accepted, bad, wrong_url = asyncio.run(attempts())
    assert accepted[0] == 4404
    assert bad == (4401, "invalid X-Twilio-Signature for this URL")
    assert wrong_url[0] == 4401


def test_health(server):
    import httpx

    health = httpx.get(server["base"].replace("ws://", "http://") + "/health", timeout=10).json()
    assert health["status"] == "ok" and any(m.startswith("piper:") for m in health["models"])


def test_twilio_audio_enters_the_pipeline_in_40_ms_frames():
    """Two 20 ms Twilio messages make one input frame (half the per-frame work of a call);
    a bad payload is still refused on the message that carried it."""
    from pipecat.frames.frames import InputAudioRawFrame, StartFrame

    from telephony.carriers.errors import StreamError
    from telephony.carriers.twilio.serializer import StrictTwilioSerializer

    async def main():
        serializer = StrictTwilioSerializer("MZ1", "CA1", max_frame_bytes=65536)
        await serializer.setup(StartFrame(audio_in_sample_rate=8000, audio_out_sample_rate=8000))
        media = json.dumps({"event": "media", "streamSid": "MZ1",
                            "media": {"payload": base64.b64encode(b"\x7f" * 160).decode()}})
        frames = [await serializer.deserialize(media) for _ in range(4)]
        assert frames[0] is None and frames[2] is None
        assert all(isinstance(f, InputAudioRawFrame) and len(f.audio) == 640 for f in frames[1::2])
        with pytest.raises(StreamError):
            await serializer.deserialize(media.replace(base64.b64encode(b"\x7f" * 160).decode(), "@@@"))

    asyncio.run(main())


def test_bot_audio_runs_ahead_of_playback_by_the_lead(server):
    """The greeting's first half second reaches the carrier at once (the server keeps its
    playback lead of 0.4 s, so a stall of a loaded server does not break the bot's speech), and
    after that it comes no faster than it plays: the lead does not grow into seconds of audio a
    barge-in would have to clear."""
    lead_s = 0.4
    assert ServerSettings.model_fields["playback_lead_s"].get_default(call_default_factory=True) == lead_s

    async def greeting() -> list[tuple[float, float]]:
        url = f"{server['base']}/media/twilio?token={TOKEN}"
        arrivals: list[tuple[float, float]] = []  # (arrival s, audio s)
        async with websockets.connect(url, max_size=None) as ws:
            for message in twilio_start():
                await ws.send(message)
            loop = asyncio.get_running_loop()

            async def silence():
                while True:
                    await ws.send(SILENCE)
                    await asyncio.sleep(0.02)

            talking = asyncio.create_task(silence())
            try:
                while not arrivals or arrivals[-1][0] - arrivals[0][0] < 3.0:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if event.get("event") == "media":
                        audio_s = len(base64.b64decode(event["media"]["payload"])) / 8000
                        arrivals.append((loop.time(), audio_s))
            finally:
                talking.cancel()
        return arrivals

    arrivals = asyncio.run(greeting())
    t0 = arrivals[0][0]
    played = 0.0  # audio the carrier has received before each message
    for arrival, audio_s in arrivals:
        if played + audio_s <= lead_s + 0.1:  # within the first message and the lead
            assert arrival - t0 < 0.2, f"message ending at {played + audio_s:.1f} s came {arrival - t0:.2f} s in"
        assert arrival - t0 > played - lead_s - 0.15, f"{played:.1f} s of audio sent by {arrival - t0:.2f} s"
        played += audio_s

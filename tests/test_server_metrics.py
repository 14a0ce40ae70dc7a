"""`/metrics` of the real media-stream server, scraped over HTTP before, during and after a call.

The server is `create_app` with warmed models under uvicorn on a loopback port (tests/
media_server.py); the call is the local carrier (LocalProvider) speaking Twilio Media Streams
with a scripted debtor over a real socket; the refused streams are raw WebSocket clients.
What each metric must have moved by is read from what the engine wrote itself: the call
record's per-turn timings, and the per-inference events of VOICEBOT_STATS_LOG (the file
`voicebot bench` reads), switched on for this module.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime, timezone

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import free_port, record_of, serving
from voicebot.providers.local import LocalProvider
from voicebot.records.models import User
from voicebot.server import ServerSettings, create_app

TOKEN = "metrics-stream-token"
METRICS_TOKEN = "metrics-scrape-token"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    records = tmp_path_factory.mktemp("metrics")
    stats = records.parent / "stats.jsonl"
    previous = os.environ.get("VOICEBOT_STATS_LOG")
    os.environ["VOICEBOT_STATS_LOG"] = str(stats)  # read at every event: the bench's own record
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=[TOKEN],
                              call_date=CALL_DATE, handoff_timeout_s=0, metrics_token=METRICS_TOKEN)
    app = create_app(settings)
    port = free_port()
    try:
        with serving(app, port):
            yield {"ws": f"ws://127.0.0.1:{port}", "http": f"http://127.0.0.1:{port}", "records": records,
                   "stats": stats, "app": app}
    finally:
        if previous is None:
            os.environ.pop("VOICEBOT_STATS_LOG", None)
        else:
            os.environ["VOICEBOT_STATS_LOG"] = previous


def parse(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(http: str) -> Samples:
    reply = httpx.get(f"{http}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return parse(reply.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def inference_events(stats, kind: str, since: float) -> list[dict]:
    lines = stats.read_text(encoding="utf-8").splitlines() if stats.exists() else []
    return [e for e in map(json.loads, lines) if e["kind"] == kind and e["t"] >= since]


def test_metrics_answer_only_the_metrics_token(server):
    url = f"{server['http']}/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401  # a stream token
    assert httpx.get(url, params={"token": METRICS_TOKEN}).status_code == 401  # not in a URL, not logged
    reply = httpx.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert reply.status_code == 200 and "voicebot_calls_in_progress" in reply.text


def test_metrics_are_off_without_a_metrics_token(tmp_path):
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=tmp_path, tokens=[TOKEN],
                              warm_up=False, metrics_token="  ")  # blank: no token, not an open door
    port = free_port()
    with serving(create_app(settings), port):
        replies = [httpx.get(f"http://127.0.0.1:{port}/metrics", headers=headers)
                   for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer x"})]
    assert [r.status_code for r in replies] == [403, 403, 403]
    assert "VOICEBOT_METRICS_TOKEN" in replies[0].text


def test_a_call_moves_the_call_turn_and_inference_metrics(server):
    before, since = scrape(server["http"]), time.time()
    carrier = LocalProvider(server["ws"], token=TOKEN)

    async def call_and_watch() -> tuple[object, list[float]]:
        placed = await carrier.place_call("+15550100", "EN-MID-1", debtor="you have the wrong number")
        waiting = asyncio.ensure_future(carrier.wait(placed.call_id, timeout=120))
        in_progress = []
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as client:
            while not waiting.done():
                reply = await client.get(f"{server['http']}/metrics")
                in_progress.append(value(parse(reply.text), "voicebot_calls_in_progress"))
                await asyncio.sleep(0.5)
        return await waiting, in_progress

    result, in_progress = asyncio.run(call_and_watch())
    summary = record_of(server["records"], result.call_id)
    after = scrape(server["http"])
    assert summary["outcome"] == "wrong_party"

    assert max(in_progress) == 1 and value(after, "voicebot_calls_in_progress") == 0
    assert moved(before, after, "voicebot_calls_ended_total", ended_by=summary["ended_by"]) == 1

    timings = [t["timings"] for t in summary["turns"] if t["timings"]]
    assert timings, "the debtor's turn was timed"
    for metric, key in (("voicebot_turn_processing_seconds", "processing_ms"),
                        ("voicebot_turn_latency_seconds", "turn_latency_ms"),
                        ("voicebot_turn_asr_wait_seconds", "asr_ms")):
        taken = [t[key] / 1000 for t in timings if key in t]
        assert moved(before, after, f"{metric}_count") == len(taken) >= 1, metric
        assert moved(before, after, f"{metric}_sum") == pytest.approx(sum(taken), abs=1e-6), metric

    for metric, audio, kind, field in (("voicebot_asr_decode_seconds", "voicebot_asr_audio_seconds_total",
                                        "asr", "processing_s"),
                                       ("voicebot_tts_synthesis_seconds", "voicebot_tts_audio_seconds_total",
                                        "tts", "synth_s")):
        events = inference_events(server["stats"], kind, since)
        assert len(events) >= 1, f"no {kind} inference during the call"
        assert moved(before, after, f"{metric}_count") == len(events), metric
        assert moved(before, after, f"{metric}_sum") == pytest.approx(sum(e[field] for e in events), abs=1e-6)
        assert moved(before, after, audio) == pytest.approx(sum(e["audio_s"] for e in events), abs=1e-6)


def test_refused_streams_count_under_their_close_code(server):
    before = scrape(server["http"])
    start = {"streamSid": "MZm", "callSid": "CAm", "accountSid": "ACtest",
             "customParameters": {"account": "NO-SUCH-ACCOUNT"},
             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}
    opening = [json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
               json.dumps({"event": "start", "sequenceNumber": "1", "start": start, "streamSid": "MZm"})]

    async def closed_with(url: str) -> int | None:
        async with websockets.connect(url) as ws:
            try:  # a wrong token is refused before the start is sent
                for message in opening:
                    await ws.send(message)
                await asyncio.wait_for(ws.recv(), 30)
            except websockets.ConnectionClosed:
                pass
        return ws.close_code

    async def refused() -> list[int | None]:
        base = f"{server['ws']}/media/twilio"
        return [await closed_with(f"{base}?token=wrong"), await closed_with(f"{base}?token=wrong"),
                await closed_with(f"{base}?token={TOKEN}")]

    assert asyncio.run(refused()) == [4401, 4401, 4404]
    after = scrape(server["http"])
    assert moved(before, after, "voicebot_streams_refused_total", code="4401") == 2
    assert moved(before, after, "voicebot_streams_refused_total", code="4404") == 1


def test_a_records_write_given_up_is_counted(server):
    """A write the database refuses in itself (a duplicate key) is dropped and counted."""
    store, before = server["app"].state.records, scrape(server["http"])

    def add_user(session) -> None:
        session.add(User(username="metrics-dup", password_hash="x", role="agent",
                         created_at=datetime.now(timezone.utc)))

    store.submit(add_user)
    store.submit(add_user)
    store.flush()
    with store.session() as session:
        assert session.scalars(select(User.username).where(User.username == "metrics-dup")).all() == ["metrics-dup"]
    assert moved(before, scrape(server["http"]), "voicebot_records_write_failures_total") == 1

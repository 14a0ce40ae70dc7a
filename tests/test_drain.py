"""Graceful drain on SIGTERM (voicebot/server/drain.py): `voicebot serve` as a real subprocess,
five live calls from the local carrier (Twilio Media Streams over real sockets, a scripted
debtor speaking synthesised audio), then SIGTERM.  The five calls go on to their scripted end
(close 1000, records complete) while a new stream is refused with 1001 and `/ready` answers 503
"draining"; once they have ended the process exits by itself.

Each debtor says one line ("you have the wrong number") and the bot closes the call, so the
test lasts the warm-up plus one short call.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
import websockets

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import free_port, record_of
from voicebot.providers.local import LocalProvider
from voicebot.server.drain import Drain
from voicebot.server.errors import StreamError

TOKEN = "drain-token"
ACCOUNTS = ["EN-EARLY-1", "EN-MID-1", "EN-LATE-1", "EN-EARLY-1", "EN-MID-1"]
DEBTOR = "you have the wrong number"
START_TIMEOUT_S = 180  # the warm-up loads and exercises the models first
DRAIN_TIMEOUT_S = 120  # far above a call's length: only the calls' end may end this drain


@pytest.fixture
def served(tmp_path):
    port, records, log = free_port(), tmp_path / "calls", tmp_path / "server.log"
    # A weekday inside the window; INFO whatever LOGURU_LEVEL an earlier test left in the environment
    # (the drain's own lines are asserted on).
    env = {**os.environ, "VOICEBOT_CALL_DATE": CALL_DATE.isoformat(), "LOGURU_LEVEL": "INFO"}
    command = [sys.executable, "-c", "from voicebot.cli import main; main()", "serve",
               "--accounts", str(SAMPLE_ACCOUNTS), "--records", str(records), "--port", str(port),
               "--token", TOKEN, "--prompt-cache", "", "--handoff-timeout", "0",
               "--drain-timeout", str(DRAIN_TIMEOUT_S)]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    http = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(f"{http}/health"):
            assert process.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        yield {"process": process, "http": http, "ws": f"ws://127.0.0.1:{port}", "records": records, "log": log}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def twilio_opening(account: str) -> list[str]:
    start = {"streamSid": "MZlate", "callSid": "CAlate", "accountSid": "ACtest",
             "customParameters": {"account": account},
             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}
    return [json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
            json.dumps({"event": "start", "sequenceNumber": "1", "start": start, "streamSid": "MZlate"})]


async def closed_with(url: str, messages: list[str]) -> tuple[int | None, str | None]:
    async with websockets.connect(url) as ws:
        try:
            for message in messages:
                await ws.send(message)
            await asyncio.wait_for(ws.recv(), 30)  # a refusal closes; a call would send audio
        except websockets.ConnectionClosed:
            pass
    return ws.close_code, ws.close_reason


async def calls_through_a_sigterm(served) -> dict:
    carrier = LocalProvider(served["ws"], token=TOKEN)
    placed = [await carrier.place_call(f"+1555010{i}", account, debtor=DEBTOR) for i, account in enumerate(ACCOUNTS)]
    waits = [asyncio.ensure_future(carrier.wait(p.call_id, timeout=180)) for p in placed]
    seen: dict = {}
    async with httpx.AsyncClient(base_url=served["http"], timeout=5) as http:
        deadline = time.monotonic() + 60
        while (await http.get("/health")).json()["calls_in_progress"] < len(placed):
            assert not any(w.done() for w in waits) and time.monotonic() < deadline, "the calls did not all start"
            await asyncio.sleep(0.1)
        served["process"].send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (ready := await http.get("/ready")).status_code != 503:
            assert time.monotonic() < deadline, "/ready did not report the drain"
            await asyncio.sleep(0.1)
        seen["ready"] = ready.json()
        seen["refused"] = await closed_with(f"{served['ws']}/media/twilio?token={TOKEN}", twilio_opening("EN-LATE-1"))
        seen["live_after_refusal"] = (await http.get("/health")).json()["calls_in_progress"]
    seen["results"] = await asyncio.gather(*waits)
    return seen


def test_sigterm_lets_live_calls_finish_and_refuses_new_ones(served):
    seen = asyncio.run(calls_through_a_sigterm(served))

    assert seen["ready"]["ready"] is False and seen["ready"]["checks"]["draining"]["ok"] is False
    assert seen["refused"][0] == 1001 and "draining" in seen["refused"][1]
    assert seen["live_after_refusal"] >= 1  # refused while calls were still on the line

    for result in seen["results"]:  # each ended by the bot's closing, not by the shutdown (1012)
        assert (result.status, result.close_code, result.error) == ("completed", 1000, None), result
        summary = record_of(served["records"], result.call_id)
        assert summary["outcome"] == "wrong_party" and summary["ended_by"] == "bot"
        assert [t["nlu"]["intent"] for t in summary["turns"] if t["nlu"]] == ["wrong_number"]
        lines = (served["records"] / f"{summary['call_id']}.jsonl").read_text().splitlines()
        assert json.loads(lines[-1])["type"] == "result"  # the JSONL record is whole too

    returncode = served["process"].wait(timeout=60)  # exits by itself once the calls have ended
    assert returncode in (0, -signal.SIGTERM), returncode
    log = served["log"].read_text()
    assert "draining" in log and "drained: every call has ended" in log


def test_a_drain_ends_at_its_limit_with_streams_still_open():
    """The limit, on an injected clock: calls longer than `drain_timeout_s` do not hold the exit."""
    now = [100.0]
    drain = Drain(30.0, clock=lambda: now[0])
    drain.opened(), drain.opened()
    drain.refuse_new()  # not draining yet: let in
    assert not drain.over() and drain.check() == {"ok": True}
    drain.begin()
    with pytest.raises(StreamError) as refused:
        drain.refuse_new()
    assert refused.value.code == 1001
    now[0] += 29.9
    assert not drain.over() and "2 stream(s)" in drain.check()["error"]
    now[0] += 0.1
    assert drain.over()
    drain.closed(), drain.closed()
    assert Drain(30.0).over() is False  # never over before it began

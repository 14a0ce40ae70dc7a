"""Answering machines, end to end with audio: the real pipeline (webrtcvad, Whisper, the
dialogue, Piper) with the AMD processor in front of it.

The served test plays an answering machine over the real media-stream server (Twilio Media
Streams from the local carrier): a synthesised greeting, then a beep, then it records the
bot.  What it recorded is transcribed with the project's Whisper and must hold the callback
number and no debt detail.  The others run on the simulated carrier, faster than real time:
a person answering with AMD on, the carrier's own verdict, and a jurisdiction whose profile
says hang up.  No phone carrier can exist here; the local carrier plays its part.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time

import numpy as np
import websockets

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import free_port, record_of, serving
from speech import resample
from voicebot.providers.local import LocalProvider
from voicebot.server import ServerSettings, create_app
from voicebot.simulate import Simulation, parse_debtor

TOKEN = "amd-test-token"
SPEED = 3.0
SECRETS = ("cascade", "1,250", "1250", "125", "owe", "debt", "overdue", "payment", "balance", "loan")


def _simulate(account, debtor: str, tmp_path, **kwargs):
    sim = Simulation(account, parse_debtor(debtor), today=CALL_DATE, speed=SPEED, records_dir=tmp_path,
                     amd=True, **kwargs)
    return asyncio.run(sim.run())


def _amd_event(summary: dict) -> dict:
    events = [e for e in summary["event_log"] if e["kind"] == "amd"]
    assert len(events) == 1, summary["event_log"]
    return events[0]


def _transcribe(pcm: np.ndarray) -> str:
    from voicebot.services.whisper import load_shared_whisper, transcribe_standard

    audio = resample(pcm, 8000, 16000).astype(np.float32) / 32768.0
    return transcribe_standard(load_shared_whisper(), audio, beam_size=1).text


async def _start_with_answered_by(url: str, value: str) -> tuple[int | None, str | None]:
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"event": "start", "account": "EN-EARLY-1", "sample_rate": 8000,
                                  "AnsweredBy": value}))
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in ws:
                pass
    return ws.close_code, ws.close_reason


def test_voicemail_left_on_a_machine_over_the_media_stream_server(tmp_path):
    port = free_port()
    base = f"ws://127.0.0.1:{port}"
    carrier = LocalProvider(base, token=TOKEN)
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=tmp_path, tokens=[TOKEN],
                              call_date=CALL_DATE, handoff_timeout_s=0)
    with serving(create_app(settings, provider=carrier), port):
        async def place():
            placed = await carrier.place_call("+12065550101", "EN-EARLY-1", debtor="<machine>", amd=True)
            return await carrier.wait(placed.call_id, timeout=90)

        started = time.monotonic()
        result = asyncio.run(place())
        summary = record_of(tmp_path, result.call_id)
        refused = asyncio.run(_start_with_answered_by(f"{base}/media/pcm?token={TOKEN}", "robot"))
    # A carrier verdict the server does not know is refused where it entered.
    assert refused[0] == 4422 and "AnsweredBy 'robot'" in refused[1], refused
    assert result.error is None and result.status == "completed"
    assert summary["outcome"] == "voicemail" and "voicemail_left" in summary["tags"]
    amd = _amd_event(summary)
    assert amd["verdict"] == "machine" and amd["decided_at_s"] <= 3.0
    assert amd["beep_at_s"] is not None and amd["message_at_s"] >= amd["beep_at_s"]
    # Nothing of the script before the verdict: the only bot turn is the voicemail.
    assert [t["kind"] for t in summary["turns"]] == ["voicemail"]
    assert [a["kind"] for a in summary["carrier_actions"]] == ["hangup"]
    assert summary["carrier_actions"][0]["status"] == "done"
    # What the machine recorded after its beep: the limited-content message, and nothing else.
    recorded = result.recorded
    voiced = np.abs(recorded.astype(np.int32)) > 500
    assert recorded is not None and voiced.sum() / 8000 > 1.0
    heard = _transcribe(recorded)
    print(f"\nmachine recorded {len(recorded) / 8000:.1f} s: {heard!r} (call {time.monotonic() - started:.1f} s)")
    lower = heard.lower()
    # Whisper writes the lender's name as one word or two ("North Wind") depending on Piper's
    # sampling noise; what matters is that it was said, so compare without spaces.
    squashed = re.sub(r"\s+", "", lower)
    assert "northwind" in squashed and "thank you" in lower, heard  # the whole message, to its end
    assert "0142" in re.sub(r"\D", "", heard) or "call us back" in lower, heard
    assert not [s for s in SECRETS if s in lower], heard
    said = summary["turns"][0]["bot_text"].lower()
    assert "1-800-555-0142" in said and not [s for s in SECRETS if s in said], said


def test_a_person_still_gets_the_normal_call_with_amd_on(accounts, tmp_path):
    """The debtor's "hello?" is answered by the greeting, not taken as an answer to it."""
    result = _simulate(accounts["EN-EARLY-1"], "@0.4 hello?|yes this is John|I can pay it on Friday|yes", tmp_path)
    summary = result.summary
    amd = _amd_event(summary)
    assert amd["verdict"] == "human" and amd["decided_at_s"] <= 3.0, amd
    assert summary["turns"][0]["kind"] == "opening"
    heard = [t["nlu"]["intent"] for t in summary["turns"] if t["nlu"]]
    assert heard[:2] == ["confirm_identity", "promise_to_pay"], [t["debtor_text"] for t in summary["turns"]]
    assert summary["outcome"] == "promise_to_pay"
    assert "heard_before_answer" in summary["events"]  # the "hello?" itself, set aside
    assert result.line_latencies_ms and all(v > 0 for v in result.line_latencies_ms)


def test_the_carriers_verdict_is_respected(accounts, tmp_path):
    """Twilio says machine_end_beep: the message goes out at once, though the line is quiet
    (the audio alone would say "unknown")."""
    result = _simulate(accounts["EN-MID-1"], "<silence>", tmp_path, answered_by="machine_end_beep")
    summary = result.summary
    amd = _amd_event(summary)
    assert (amd["verdict"], amd["reason"], amd["message_at_s"]) == ("machine", "carrier:machine_end_beep", 0.0)
    assert summary["outcome"] == "voicemail" and "Maria" in summary["turns"][0]["bot_text"]


def test_hang_up_profile_leaves_no_message(accounts, tmp_path):
    """Under the `cn` profile a machine gets no message: the bot hangs up after the verdict."""
    account = accounts["EN-LATE-1"].model_copy(update={"jurisdiction": "cn"})
    result = _simulate(account, "<machine: Hello, you have reached the Kim family. Please leave a message.>",
                       tmp_path)
    summary = result.summary
    assert _amd_event(summary)["verdict"] == "machine"
    assert summary["outcome"] == "voicemail" and "voicemail_hung_up" in summary["tags"]
    assert [t["bot_text"] for t in summary["turns"]] == [""]
    recorded = result.machine_recording
    assert recorded is not None and int(np.abs(recorded.astype(np.int32)).max(initial=0)) < 100

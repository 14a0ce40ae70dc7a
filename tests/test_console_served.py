"""A call the real media-stream server takes is in the console: stored turn by turn by the
server itself (`voicebot/server/call.py` attaches the records store), with the carrier's
details added at the end, and shown by the live board fed from the server's own bus.

One real call: the local carrier streams synthesised debtor speech over the Twilio Media
Streams WebSocket in real time; nothing is faked."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import free_port, record_of, serving
from voicebot.console.auth import add_user
from voicebot.providers.local import LocalProvider
from voicebot.server import ServerSettings, create_app

TOKEN = "console-served"


def test_a_served_call_is_stored_as_it_happens_and_seen_live(tmp_path):
    port = free_port()
    carrier = LocalProvider(f"ws://127.0.0.1:{port}", token=TOKEN, debtor_voice="en-kate")
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=tmp_path, tokens=[TOKEN],
                              call_date=CALL_DATE, warm_up=False)
    app = create_app(settings, provider=carrier)
    add_user(app.state.records, "sam", "console-pass-1", "supervisor")
    with serving(app, port):
        async def call():
            placed = await carrier.place_call("+15550100", "EN-EARLY-1", debtor="sorry, you have the wrong number")
            return await carrier.wait(placed.call_id, timeout=120)
        result = asyncio.run(call())
        summary = record_of(tmp_path, result.call_id)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/console") as web:
            web.post("/login", data={"username": "sam", "password": "console-pass-1"})
            live = web.get("/api/live").json()
        app.state.records.flush()
    db = sqlite3.connect(tmp_path / "records.db")
    outcome, score, extra = db.execute("SELECT outcome, score, extra FROM vb_calls WHERE id=?",
                                       (summary["call_id"],)).fetchone()
    assert (outcome, score) == (summary["outcome"], summary["score"]) and outcome == "wrong_party"
    assert f'"carrier_call_id": "{result.call_id}"' in extra
    stored = db.execute('SELECT "index", debtor_text, intent, latency_ms FROM vb_turns WHERE call_id=? '
                        'ORDER BY "index"', (summary["call_id"],)).fetchall()
    assert [(i, text, intent) for i, text, intent, _ in stored] == [
        (t["index"], t["debtor_text"], (t["nlu"] or {}).get("intent")) for t in summary["turns"]]
    assert all(lat and lat > 0 for _, text, _, lat in stored if text)  # the voice loop's own timings
    shown = next(c for c in live["calls"] if c["call_id"] == summary["call_id"])
    assert [t["debtor_text"] for t in shown["turns"]] == [t["debtor_text"] for t in summary["turns"]]

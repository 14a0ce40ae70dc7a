"""Issue 21's "Done when" over the real server: seven attempts from mixed sources in seven days
block the eighth at the media-stream server, with the rule in the close reason and the audit log.

The server is the real one (uvicorn on 127.0.0.1, a free port, in a thread; the real pipeline
and models), its calls are Twilio Media Streams spoken over real sockets by a client written
here, and the history is the records store's SQLite file the server opens.  The campaign's
dials come from the real CampaignWorker; PreparedDialer stands in for the carrier that would
ring the debtor (a phone network cannot exist here), so those dials are unanswered."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import datetime, timezone

import websockets

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import free_port, serving
from telephony.campaign import CampaignConfig, CampaignWorker, ManualClock, PreparedDialer
from telephony.campaign.memory_store import InMemoryStore
from telephony.compliance_gate import AUDIT_FILE, FORBIDDEN, AuditLog
from telephony.contact_history import ContactAttempt
from voicebot.records.contact_history import StoredContactHistory
from voicebot.records.store import RecordStore
from voicebot.server import ServerSettings, create_app

TOKEN = "history-token"
SILENCE = base64.b64encode(b"\xff" * 160).decode()  # 20 ms of mu-law silence


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def twilio_opening(account: str, sid: str) -> list[str]:
    start = {"streamSid": f"MZ{sid}", "callSid": f"CA{sid}", "accountSid": "ACtest",
             "customParameters": {"account": account},
             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}
    return [json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
            json.dumps({"event": "start", "sequenceNumber": "1", "start": start, "streamSid": f"MZ{sid}"})]


async def answered_then_hung_up(url: str, account: str, sid: str) -> str:
    """A callee who picks up, hears the bot start speaking, and hangs up: 'heard' once the
    server's audio arrives, else the close code and reason the server sent instead."""
    async with websockets.connect(url, max_size=None) as ws:
        for message in twilio_opening(account, sid):
            await ws.send(message)

        async def line() -> None:
            while True:
                await ws.send(json.dumps({"event": "media", "streamSid": f"MZ{sid}", "media": {"payload": SILENCE}}))
                await asyncio.sleep(0.02)
        feeding = asyncio.create_task(line())
        try:
            async for raw in ws:
                if isinstance(raw, str) and json.loads(raw).get("event") == "media":
                    return "heard"
        except websockets.ConnectionClosed:
            pass
        finally:
            feeding.cancel()
        return f"{ws.close_code} {ws.close_reason}"


def test_seven_attempts_from_mixed_sources_block_the_eighth_at_the_server(accounts, tmp_path):
    records = tmp_path / "calls"
    store = RecordStore(f"sqlite:///{records / 'records.db'}")
    history = StoredContactHistory(store)
    debtor = accounts["EN-MID-1"]  # Chicago, us (Reg F: 7 calls in 7 days)

    # A campaign dials Thursday to Sunday; nobody answers (4 attempts).
    clock = ManualClock(at("2026-11-19T10:00:00-06:00"))
    dialer = PreparedDialer(default="no_answer")
    worker = CampaignWorker(InMemoryStore(), dialer, "spring", clock=clock, worker_id="w", history=history,
                            config=CampaignConfig(retry_delays="1d", max_calls_per_week=20, max_attempts=20))
    asyncio.run(worker.run([debtor], follow=True, until=at("2026-11-22T23:00:00-06:00")))
    assert len(dialer.placed) == 4
    # A reminder text went out on Saturday: in the history, but Reg F's cap counts calls.
    history.record(ContactAttempt(debtor.id, debtor.phone, "sms", "outbound", "sms",
                                  at("2026-11-21T15:00:00-06:00"), outcome="sent"))
    store.flush()

    # On Monday the server is asked for four calls to the same debtor by someone else's dialer.
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=[TOKEN],
                              call_date=CALL_DATE, handoff_timeout_s=0, contact_history=True)
    port = free_port()
    url = f"ws://127.0.0.1:{port}/media/twilio?token={TOKEN}"
    with serving(create_app(settings), port):
        served = [asyncio.run(asyncio.wait_for(answered_then_hung_up(url, debtor.id, f"ok{i}"), 120))
                  for i in range(3)]
        eighth = asyncio.run(asyncio.wait_for(answered_then_hung_up(url, debtor.id, "eighth"), 60))
        # the calls just served are ended in the history once their records are written
        deadline = time.monotonic() + 30
        while True:
            rows = history.rows_since(debtor.id, at("2026-11-01T00:00:00Z"))
            if all(r.outcome for r in rows if r.source == "server") or time.monotonic() > deadline:
                break
            time.sleep(0.2)

    assert served == ["heard"] * 3
    code, reason = eighth.split(" ", 1)
    assert int(code) == FORBIDDEN and "us:per_debt_in_days" in reason and "7 attempts" in reason
    blocked = [e for e in AuditLog(records / AUDIT_FILE).read() if e["account"] == debtor.id]
    assert [(e["rule"], e["source"]) for e in blocked] == [("us:per_debt_in_days", "media_stream")]
    by_source: dict[str, int] = {}
    for row in rows:
        by_source[row.source] = by_source.get(row.source, 0) + 1
    assert by_source == {"campaign": 4, "server": 3, "sms": 1}
    server_rows = [r for r in rows if r.source == "server"]
    assert all(r.outcome and r.connected and r.call_id and not r.conversation for r in server_rows)
    store.close()

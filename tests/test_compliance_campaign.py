"""The contact rules where calls start: the campaign worker asks them before every dial (fed
with the attempt history its store keeps across campaigns, in a real Redis), logs each
blocked attempt with the rule's name, and the media-stream server refuses a forbidden call.

PreparedDialer stands in for the audio call (the audio path is tested in test_campaign.py);
what is tested here is the decision before the line rings."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from telephony.campaign import CampaignConfig, CampaignWorker, ManualClock, PreparedDialer, RedisStore, connect
from telephony.campaign.report import summary_table, totals
from telephony.compliance_gate import AUDIT_FILE, FORBIDDEN, AuditLog
from voicebot.server import ServerSettings
from voicebot.server.compliance_gate import CallStartGate
from voicebot.server.errors import StreamError

UTC = timezone.utc
REPO = Path(__file__).resolve().parents[1]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def store(redis_url, redis_prefix) -> RedisStore:
    return RedisStore(connect(redis_url), redis_prefix)


def run(worker: CampaignWorker, rows, **kwargs):
    return asyncio.run(worker.run(rows, **kwargs))


def test_worker_refuses_the_seventh_unanswered_cn_attempt_and_logs_the_rule(accounts, store, tmp_path):
    """cn: at most 6 unanswered attempts a day per number. The campaign's own caps are set
    loose, so the profile is what stops the 7th dial; it waits for tomorrow 08:00 Shanghai."""
    row = accounts["ZH-EARLY-1"].model_copy(update={"id": "ZH-CAP"})
    config = CampaignConfig(retry_delays="10m", max_calls_per_day=20, max_calls_per_week=50, max_attempts=20)
    clock = ManualClock(at("2026-11-24T09:00:00+08:00"))
    audit = AuditLog(tmp_path / "audit.jsonl")
    dialer = PreparedDialer(default="no_answer")
    worker = CampaignWorker(store, dialer, "cn-caps", config=config, clock=clock, worker_id="w", audit=audit)
    run(worker, [row], follow=True, until=at("2026-11-24T21:00:00+08:00"))

    assert len(dialer.placed) == 6
    state = store.state("cn-caps", "ZH-CAP")
    assert (state.waiting_for, state.next_at) == ("unanswered_per_day", at("2026-11-25T08:00:00+08:00"))
    (entry,) = store.blocked("cn-caps")
    assert (entry["rule"], entry["account"], entry["campaign"]) == ("cn:unanswered_per_day", "ZH-CAP", "cn-caps")
    assert entry["at"] == at("2026-11-24T10:00:00+08:00").isoformat()   # 09:00 + 6 x 10 min
    assert audit.read() == [entry]
    assert totals(store.states("cn-caps"), store.calls("cn-caps"), store.blocked("cn-caps")).blocked == \
        {"cn:unanswered_per_day": 1}
    console = Console(record=True, width=250)
    console.print(summary_table(store, "cn-caps"))
    assert "cn:unanswered_per_day 1" in " ".join(console.export_text().split())


def test_a_conversation_in_one_campaign_holds_the_debt_for_seven_days_in_another(accounts, store, redis_url):
    """us (Reg F): none within 7 days after a conversation about the debt, whichever campaign
    held it; the history lives in Redis, so a second campaign (or worker) sees it."""
    row = accounts["EN-MID-1"].model_copy(update={"id": "EN-TALK"})
    clock = ManualClock(at("2026-11-23T10:00:00-06:00"))
    first = CampaignWorker(store, PreparedDialer(default="answered:refused"), "first", clock=clock, worker_id="w1")
    run(first, [row])
    assert [c.status for c in store.calls("first")] == ["answered"]

    clock.advance(days=2)
    other_view = RedisStore(connect(redis_url), store.prefix)   # another worker's own connection
    dialer = PreparedDialer(default="answered:promise_to_pay")
    second = CampaignWorker(other_view, dialer, "second", clock=clock, worker_id="w2")
    run(second, [row])
    assert dialer.placed == []
    state = other_view.state("second", "EN-TALK")
    assert (state.waiting_for, state.next_at) == ("quiet_days_after_conversation", at("2026-11-30T10:00:00-06:00"))
    assert [e["rule"] for e in other_view.blocked("second")] == ["us:quiet_days_after_conversation"]
    # The worker follows the clock to the next allowed time and then dials.
    run(second, [], follow=True)
    assert [r.account.id for r in dialer.placed] == ["EN-TALK"]
    assert store.calls("second")[0].started_at == at("2026-11-30T10:00:00-06:00")


def test_an_opt_out_in_one_campaign_blocks_the_account_in_every_other(accounts, store):
    clock = ManualClock(at("2026-11-24T10:00:00+08:00"))
    row = accounts["ZH-MID-1"].model_copy(update={"id": "ZH-STOP"})
    run(CampaignWorker(store, PreparedDialer(default="answered:opted_out"), "one", clock=clock), [row])
    assert store.is_opted_out("ZH-STOP")
    assert store.r.sismember(f"{store.prefix}:optout", "ZH-STOP"), "one key for the whole store"

    clock.advance(days=30)
    dialer = PreparedDialer(default="answered:promise_to_pay")
    other = accounts["ZH-MID-1"].model_copy(update={"id": "ZH-OTHER"})
    run(CampaignWorker(store, dialer, "two", clock=clock), [row, other], follow=True)
    assert [r.account.id for r in dialer.placed] == ["ZH-OTHER"]
    assert store.state("two", "ZH-STOP").final == "opted_out"


def test_an_account_without_jurisdiction_or_zone_leaves_the_campaign_with_the_rule(accounts, store):
    clock = ManualClock(at("2026-11-24T17:00:00+00:00"))
    lost = accounts["EN-EARLY-1"].model_copy(update={"id": "LOST", "jurisdiction": None, "phone": "+99912345"})
    dialer = PreparedDialer(default="answered:promise_to_pay")
    run(CampaignWorker(store, dialer, "lost", clock=clock), [lost])
    assert dialer.placed == []
    state = store.state("lost", "LOST")
    assert (state.final, state.note.split(":")[0:2]) == ("not_callable", ["?", "jurisdiction"])


def _settings(tmp_path: Path, call_date: date) -> ServerSettings:
    return ServerSettings(accounts_file=REPO / "scripts" / "accounts" / "sample_accounts.csv",
                          records_dir=tmp_path, tokens=["t"], call_date=call_date)


def _admit(account, settings: ServerSettings) -> None:
    """The server's gate as `voicebot serve` runs it (here without the contact history, which
    tests/test_contact_history.py covers): window, holidays, jurisdiction, zone, opt-out."""
    asyncio.run(CallStartGate(settings, None).admit(account, SimpleNamespace(call_id=None, extra={})))


def test_the_media_stream_server_refuses_a_call_the_rules_forbid(accounts, tmp_path):
    _admit(accounts["EN-LATE-1"], _settings(tmp_path, date(2026, 11, 23)))   # a Monday: fine
    assert not (tmp_path / AUDIT_FILE).exists()
    with pytest.raises(StreamError) as refused:
        _admit(accounts["EN-LATE-1"], _settings(tmp_path, date(2026, 11, 26)))  # Thanksgiving
    assert refused.value.code == FORBIDDEN
    assert "us:holidays" in refused.value.reason
    (line,) = AuditLog(tmp_path / AUDIT_FILE).read()
    assert (line["rule"], line["account"], line["source"]) == ("us:holidays", "EN-LATE-1", "media_stream")
    assert line["next_allowed_at"] == at("2026-11-27T08:00:00-05:00").isoformat()


def test_a_forbidden_stream_is_closed_with_4403_over_the_websocket(tmp_path):
    """The real FastAPI app: a PCM stream for a US account on Thanksgiving is refused before
    any model or script is touched, with the rule in the close reason."""
    import json

    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from voicebot.server import create_app

    settings = _settings(tmp_path, date(2026, 11, 26)).model_copy(update={"warm_up": False})
    with TestClient(create_app(settings)) as client:
        with client.websocket_connect("/media/pcm?token=t") as ws:
            ws.send_text(json.dumps({"event": "start", "account": "EN-LATE-1", "sample_rate": 8000}))
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
    assert closed.value.code == FORBIDDEN
    assert "us:holidays" in closed.value.reason
    assert [e["rule"] for e in AuditLog(tmp_path / AUDIT_FILE).read()] == ["us:holidays"]


def test_the_memory_store_keeps_attempt_results_and_blocked_log_in_its_state_file(accounts, tmp_path):
    """A single-process campaign saves to a JSON file between runs: the next run must still
    know which dials were conversations (Reg F's quiet week) and what was blocked."""
    from telephony.campaign import InMemoryStore

    store = InMemoryStore()
    clock = ManualClock(at("2026-11-23T10:00:00-06:00"))
    row = accounts["EN-MID-1"].model_copy(update={"id": "MEM"})
    run(CampaignWorker(store, PreparedDialer(default="answered:refused"), "a", clock=clock), [row])
    clock.advance(days=1)
    run(CampaignWorker(store, PreparedDialer(), "b", clock=clock), [row])
    reloaded = InMemoryStore()
    reloaded.load_json(store.to_json())
    (attempt,) = reloaded.attempts_since("MEM", at("2026-11-01T00:00:00+00:00"))
    assert (attempt.connected, attempt.conversation) == (True, True)
    assert [e["rule"] for e in reloaded.blocked("b")] == ["us:quiet_days_after_conversation"]

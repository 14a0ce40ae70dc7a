"""The telephony layer's Prometheus counters (telephony/metrics.py): campaign dials by outcome,
live-bus failures and campaign-Redis failures, each moved by the real code that counts it.

A campaign worker runs a campaign on the in-memory store with PreparedDialer (the dialer only
stands in for the audio call; the worker, its schedule and its counting are real).  The bus and
the campaign store are real Redis clients pointed at a loopback port nothing listens on: the
connection is refused by the kernel, as with a Redis that is down.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from telephony.bus.base import BusUnavailable
from telephony.bus.redis_bus import RedisBus
from telephony.campaign import CampaignWorker, InMemoryStore, ManualClock, PreparedDialer, RedisStore, connect
from telephony.campaign.store import StoreUnavailable
from voicebot.bench.server import free_port

REPO = Path(__file__).resolve().parents[1]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_campaign_dials_are_counted_by_outcome(accounts):
    """No answer, busy, no answer, then a promise: four dials under their four outcomes."""
    outcomes = ("no_answer", "busy", "promise_to_pay")
    before = {o: sample("voicebot_campaign_dials_total", outcome=o) for o in outcomes}
    account = accounts["EN-EARLY-1"].model_copy(update={"id": "METRICS-A"})
    clock = ManualClock(datetime.fromisoformat("2026-11-23T09:00:00-08:00").astimezone(timezone.utc))
    dialer = PreparedDialer({"METRICS-A": ["no_answer", "busy", "no_answer", "answered:promise_to_pay"]})
    worker = CampaignWorker(InMemoryStore(), dialer, "metrics", clock=clock, worker_id="w")
    asyncio.run(worker.run([account], follow=True))
    moved = {o: sample("voicebot_campaign_dials_total", outcome=o) - before[o] for o in outcomes}
    assert moved == {"no_answer": 2, "busy": 1, "promise_to_pay": 1}
    assert len(dialer.placed) == 4


def test_an_unreachable_bus_is_counted():
    before = sample("voicebot_bus_failures_total", reason="unavailable")
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.5, op_timeout=0.5)

    async def publish() -> None:
        try:
            await bus.publish("calls", {"event": "started"})
        finally:
            await bus.aclose()

    with pytest.raises(BusUnavailable):
        asyncio.run(publish())
    assert sample("voicebot_bus_failures_total", reason="unavailable") - before == 1


def test_an_unreachable_campaign_store_is_counted_by_store():
    before = sample("voicebot_redis_store_failures_total", store="campaign store")
    store = RedisStore(connect(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.5, op_timeout=0.5),
                       "metrics")
    with pytest.raises(StoreUnavailable):
        store.state("metrics", "METRICS-A")
    with pytest.raises(StoreUnavailable):
        store.next_due("metrics")
    assert sample("voicebot_redis_store_failures_total", store="campaign store") - before == 2


def test_a_campaign_worker_serves_its_dials_on_its_metrics_port(tmp_path):
    """`voicebot campaign run --metrics-port` as a real process, scraped over HTTP while it dials
    two accounts that ring for 2 s each and are not answered (no audio: `sim_answer`)."""
    rows = (REPO / "telephony" / "campaign" / "demo_accounts.csv").read_text().splitlines()
    header, no_answer = rows[0], next(r for r in rows if r.startswith("D-NOANSWER,"))
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("\n".join([header, no_answer.replace("D-NOANSWER", "M-1", 1),
                                   no_answer.replace("D-NOANSWER", "M-2", 1)]) + "\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # the one-process memory store
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("voicebot")), "campaign", "run", str(accounts),
         "--at", "2026-11-23T17:00:00Z", "--concurrency", "1", "--ring-s", "2", "--no-sms", "--json",
         "--state", str(tmp_path / "state.json"), "--records", str(tmp_path / "calls"),
         "--metrics-port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: list[float] = []
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                time.sleep(0.2)  # not serving yet
                continue
            values = [s.value for f in text_string_to_metric_families(text) for s in f.samples
                      if s.name == "voicebot_campaign_dials_total" and s.labels == {"outcome": "no_answer"}]
            seen.append(values[0] if values else 0.0)
            time.sleep(0.1)
        output = process.communicate(timeout=60)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert [c["status"] for c in json.loads(output.splitlines()[-1])["calls"]] == ["no_answer", "no_answer"]
    assert 1.0 in seen and seen == sorted(seen)  # the first dial counted while the second rang

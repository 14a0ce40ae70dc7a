"""Outbound campaigns: workers sharing one campaign through a real Redis (the `redis_url`
fixture), calling windows in the debtor's time zone, day/week caps, the retry schedule, voice
rotation on redial, opt-outs across campaigns, and leases that free a dead worker's accounts.

Real audio calls (voicebot.simulate.Simulation through SimulatedDialer) are few: two in the
two-process test, two in the voice-rotation test, one in the opt-out test.  Scheduling tests use
PreparedDialer, which stands in for the audio call (that path is the one tested with
SimulatedDialer) and returns the answer each test prepares."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialogue.compliance.local_time import DebtorTime
from telephony.campaign import (
    AccountState, CallAnswer, CampaignConfig, CampaignWorker, InMemoryStore, ManualClock,
    PreparedDialer, RedisStore, after_call, connect, contact_gate,
)
from telephony.campaign.windows import LocalWindow
from voicebot.simulated_dialer import SimulatedDialer

REPO = Path(__file__).resolve().parents[1]
CAMPAIGN_CLI = [str(Path(sys.executable).with_name("voicebot")), "campaign"]  # the venv's `voicebot`
SPEED = 4.0
UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def prefix(redis_prefix):
    return redis_prefix


@pytest.fixture
def store(redis_url, prefix) -> RedisStore:
    return RedisStore(connect(redis_url), prefix)


def account(accounts, base: str, new_id: str, **changes):
    """A sample account under a new id; extra keys become the optional `sim_*` columns."""
    data = accounts[base].model_dump(mode="json")
    data.update(id=new_id, **changes)
    return type(accounts[base]).model_validate(data)


def run(worker: CampaignWorker, rows, **kwargs):
    return asyncio.run(worker.run(rows, **kwargs))


def overlaps(intervals: list[tuple[float, float]]) -> int:
    """Most intervals open at one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


# -- pure rules ---------------------------------------------------------------------------

def test_window_edges_and_next_opening():
    window = [LocalWindow.parse("08:00-21:00")]
    la = DebtorTime.fixed("America/Los_Angeles")
    assert la.inside(window, at("2026-11-23T08:00:00-08:00"))
    assert la.inside(window, at("2026-11-23T20:59:00-08:00"))
    assert not la.inside(window, at("2026-11-23T21:00:00-08:00"))
    assert not la.inside(window, at("2026-11-23T07:59:00-08:00"))
    assert la.next_opening(window, at("2026-11-23T21:30:00-08:00")) == at("2026-11-24T08:00:00-08:00")
    assert la.next_opening(window, at("2026-11-23T06:00:00-08:00")) == at("2026-11-23T08:00:00-08:00")
    # Across a DST change the opening stays 08:00 local (2026-03-08: PST -> PDT).
    assert la.next_opening(window, at("2026-03-07T22:00:00-08:00")) == at("2026-03-08T08:00:00-07:00")


def test_contact_gate_day_and_week_caps():
    config = CampaignConfig(max_calls_per_day=2, max_calls_per_week=3)
    ny = DebtorTime.fixed("America/New_York")
    now = at("2026-11-24T10:00:00-05:00")
    assert contact_gate(config, ny, now, []).allowed
    today = [at("2026-11-24T08:05:00-05:00"), at("2026-11-24T09:00:00-05:00")]
    gate = contact_gate(config, ny, now, today)
    assert (gate.allowed, gate.reason, gate.next_at) == (False, "daily_cap", at("2026-11-25T08:00:00-05:00"))
    # Yesterday's dials do not count for today, but they count for the week.
    week = [at("2026-11-20T12:00:00-05:00"), at("2026-11-23T12:00:00-05:00"), at("2026-11-23T13:00:00-05:00")]
    gate = contact_gate(config, ny, now, week)
    assert (gate.reason, gate.next_at) == ("weekly_cap", at("2026-11-27T12:00:00-05:00"))
    assert contact_gate(config, ny, now, week[1:]).allowed


def test_after_call_outcomes():
    config = CampaignConfig()
    tz = DebtorTime.fixed("America/Chicago")
    now = at("2026-11-23T10:00:00-06:00")
    fresh = AccountState(account_id="A", attempts=1)

    def answered(outcome, **details):
        return CallAnswer("answered", {"outcome": outcome, "voice": "en-joe", "details": details})

    assert after_call(config, fresh, answered("promise_to_pay"), now, tz).final == "resolved"
    assert after_call(config, fresh, answered("hardship"), now, tz).final == "handed_off"
    assert after_call(config, fresh, answered("wrong_party"), now, tz).final == "wrong_party"
    assert after_call(config, fresh, answered("opted_out"), now, tz).final == "opted_out"
    callback = after_call(config, fresh, answered("callback", callback_time="2026-11-25"), now, tz)
    assert (callback.waiting_for, callback.next_at) == ("callback", at("2026-11-25T08:00:00-06:00"))
    redial = after_call(config, fresh, answered("refused"), now, tz)
    assert (redial.waiting_for, redial.next_at, redial.voices) == ("redial", now + timedelta(days=1), ["en-joe"])
    assert after_call(config, redial.model_copy(update={"attempts": 2}), answered("refused"), now, tz).final \
        == "max_answered"
    late = at("2026-11-23T20:45:00-06:00")  # +30 min is past 21:00: wait for the morning
    retry = after_call(config, fresh, CallAnswer("no_answer"), late, tz)
    assert (retry.waiting_for, retry.next_at) == ("retry", at("2026-11-24T08:00:00-06:00"))
    spent = fresh.model_copy(update={"attempts": config.max_attempts})
    assert after_call(config, spent, CallAnswer("busy"), now, tz).final == "max_attempts"


# -- workers ------------------------------------------------------------------------------

def _write_csv(path: Path, rows: list[dict]) -> None:
    columns = sorted({key for row in rows for key in row})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("; ".join(v) if isinstance(v, list) else v) for k, v in row.items()})


def test_two_worker_processes_share_one_campaign(accounts, redis_url, prefix, store, tmp_path):
    """Two `voicebot campaign run` processes, one Redis, one accounts file: every
    account is dialled by one worker at a time, no more than the day cap, never more than the
    campaign-wide line limit at once; a debtor whose local time is 02:00 is not called."""
    start = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0)  # 10:00 LA, 13:00 NY
    rows = []
    for i in range(6):  # unanswered lines ring 0.8 s and are retried 1 s later, so calls overlap
        base = ["EN-EARLY-1", "EN-MID-1", "EN-LATE-1"][i % 3]
        rows.append(account(accounts, base, f"RING-{i}", sim_answer="no_answer" if i % 2 else "busy",
                            sim_ring_s="0.8").model_dump(mode="json"))
    rows.append(account(accounts, "EN-EARLY-1", "TALK-1", sim_answer="answered",
                        sim_debtor="yes this is John|I can pay it on Friday|yes").model_dump(mode="json"))
    rows.append(account(accounts, "EN-LATE-1", "TALK-2", sim_answer="answered",
                        sim_debtor="yes this is David|I'll pay the full amount on friday|yes").model_dump(mode="json"))
    rows.append(account(accounts, "ZH-EARLY-1", "NIGHT-1", sim_answer="answered",
                        sim_debtor="对我就是|我周五就还|好的").model_dump(mode="json"))  # 02:00 in Shanghai
    path = tmp_path / "two_workers.csv"
    _write_csv(path, rows)

    def worker(name: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*CAMPAIGN_CLI, "run", str(path), "--redis", redis_url,
             "--prefix", prefix, "--campaign", "shared", "--worker-id", name, "--at", start.isoformat(),
             "--follow", "--until", (start + timedelta(hours=6)).isoformat(), "--concurrency", "3",
             "--retry", "1s", "--max-per-day", "3", "--speed", str(SPEED), "--records", str(tmp_path / name),
             "--no-sms", "--lease-ttl", "20", "--json"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    procs = [worker("w1"), worker("w2")]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=150)
        assert proc.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    calls = store.calls("shared")
    by_account: dict[str, list] = {}
    for call in calls:
        by_account.setdefault(call.account_id, []).append(call)
    assert {o["worker"] for o in outputs} == {"w1", "w2"}
    assert {c.worker for c in calls} == {"w1", "w2"}, "both workers took part"
    assert sum(len(o["calls"]) for o in outputs) == len(calls)

    for account_id, mine in by_account.items():
        # One worker at a time: this account's calls never overlap, whoever placed them.
        assert overlaps([(c.wall_start, c.wall_end) for c in mine]) == 1, account_id
        assert [c.attempt for c in sorted(mine, key=lambda c: c.wall_start)] == list(range(1, len(mine) + 1))
        # Every dial was counted for the caps, once.
        assert len(store.contacts_since(account_id, start - timedelta(days=1))) == len(mine)
    assert overlaps([(c.wall_start, c.wall_end) for c in calls]) <= 3, "campaign-wide line limit"

    states = store.states("shared")
    for i in range(6):
        mine = by_account[f"RING-{i}"]
        assert len(mine) == 3, "retried until the day cap (3), not beyond"
        assert states[f"RING-{i}"].waiting_for == "daily_cap"
        tz = ZoneInfo(rows[i]["timezone"])
        next_local = states[f"RING-{i}"].next_at.astimezone(tz)
        assert (next_local.date(), next_local.hour) == (start.astimezone(tz).date() + timedelta(days=1), 8)
    for talk in ("TALK-1", "TALK-2"):
        (call,) = by_account[talk]
        assert (call.status, call.outcome) == ("answered", "promise_to_pay")
        assert states[talk].final == "resolved"
    assert "NIGHT-1" not in by_account, "02:00 in Shanghai: outside the calling window"
    assert states["NIGHT-1"].waiting_for == "window"
    assert states["NIGHT-1"].next_at.astimezone(ZoneInfo("Asia/Shanghai")).hour == 8
    assert store.holder("TALK-1") is None and store.holder("RING-0") is None, "leases released"


def test_calling_window_on_both_sides_with_an_injected_clock(accounts, store):
    """At 12:30 UTC it is 04:30 in Los Angeles and 07:30 in New York (too early), 20:30 in
    Shanghai and 12:30 in London (inside), 21:30 in Tokyo (too late)."""
    zones = {"LA": "America/Los_Angeles", "NY": "America/New_York", "SH": "Asia/Shanghai",
             "LON": "Europe/London", "TYO": "Asia/Tokyo"}
    rows = [account(accounts, "EN-EARLY-1", key, timezone=tz) for key, tz in zones.items()]
    clock = ManualClock(at("2026-11-23T12:30:00+00:00"))
    dialer = PreparedDialer(default="answered:promise_to_pay")
    worker = CampaignWorker(store, dialer, "windows", clock=clock, worker_id="w")
    run(worker, rows)
    assert sorted(r.account.id for r in dialer.placed) == ["LON", "SH"]
    states = store.states("windows")
    assert states["LA"].next_at == at("2026-11-23T08:00:00-08:00")
    assert states["NY"].next_at == at("2026-11-23T08:00:00-05:00")
    assert states["TYO"].next_at == at("2026-11-24T08:00:00+09:00")
    assert {states[k].waiting_for for k in ("LA", "NY", "TYO")} == {"window"}
    # Half an hour later New York opens; the others still wait.
    clock.set(at("2026-11-23T13:00:00+00:00"))
    run(worker, rows)
    assert sorted(r.account.id for r in dialer.placed) == ["LON", "NY", "SH"]
    # With --follow the worker sleeps (on the injected clock) until each window opens.
    run(worker, rows, follow=True)
    placed = {r.account.id: r for r in dialer.placed}
    assert sorted(placed) == ["LA", "LON", "NY", "SH", "TYO"]
    calls = {c.account_id: c for c in store.calls("windows")}
    for key, tz in zones.items():
        local_start = calls[key].started_at.astimezone(ZoneInfo(tz))
        assert 8 <= local_start.hour < 21, (key, local_start)


def test_retry_schedule_after_no_answer_and_busy(accounts):
    """No answer at 09:00 local, busy at 09:30, no answer at 11:30, answered next day at 11:30:
    the +30 min, +2 h, next day schedule.  (In-memory store: the single-process path.)"""
    store = InMemoryStore()
    clock = ManualClock(at("2026-11-23T09:00:00-08:00"))
    dialer = PreparedDialer({"A": ["no_answer", "busy", "no_answer", "answered:promise_to_pay"]})
    worker = CampaignWorker(store, dialer, "retry", clock=clock, worker_id="w")
    run(worker, [account(accounts, "EN-EARLY-1", "A")], follow=True)
    la = ZoneInfo("America/Los_Angeles")
    started = [c.started_at.astimezone(la).strftime("%a %H:%M") for c in store.calls("retry")]
    assert started == ["Mon 09:00", "Mon 09:30", "Mon 11:30", "Tue 11:30"]
    assert [c.status for c in store.calls("retry")] == ["no_answer", "busy", "no_answer", "answered"]
    assert store.state("retry", "A").final == "resolved"


def test_day_and_week_caps_hold_back_retries(accounts, store):
    config = CampaignConfig(retry_delays="10m", max_calls_per_day=2, max_calls_per_week=3, max_attempts=4)
    clock = ManualClock(at("2026-11-23T09:00:00-05:00"))
    worker = CampaignWorker(store, PreparedDialer(default="no_answer"), "caps", config=config, clock=clock,
                            worker_id="w")
    run(worker, [account(accounts, "EN-LATE-1", "C")], follow=True)
    ny = ZoneInfo("America/New_York")
    started = [c.started_at.astimezone(ny).strftime("%d %H:%M") for c in store.calls("caps")]
    # Two on Monday (day cap), one on Tuesday at the window's opening, then the week cap holds
    # the 4th until Monday's first dial is 7 days old.
    assert started == ["23 09:00", "23 09:10", "24 08:00", "30 09:00"]
    assert store.state("caps", "C").final == "max_attempts"


def test_caps_count_dials_of_every_campaign(accounts, store):
    config = CampaignConfig(max_calls_per_day=1)
    clock = ManualClock(at("2026-11-23T10:00:00-08:00"))
    first = CampaignWorker(store, PreparedDialer(default="no_answer"), "one", config=config, clock=clock)
    run(first, [account(accounts, "EN-EARLY-1", "P")])
    second_dialer = PreparedDialer(default="no_answer")
    second = CampaignWorker(store, second_dialer, "two", config=config, clock=clock)
    run(second, [account(accounts, "EN-EARLY-1", "P")])
    assert second_dialer.placed == []
    assert store.state("two", "P").waiting_for == "daily_cap"


def test_redial_uses_the_other_voice_real_calls(accounts, store, tmp_path):
    """A debtor answers and refuses (voice 1), does not answer the redial, then answers the next
    one and promises (voice 2): the voice follows answered calls, not dials.  Real audio calls."""
    row = account(accounts, "EN-MID-1", "V", sim_answer="answered,no_answer,answered",
                  sim_debtor="yes this is Maria|I am not paying that|no I will not pay",
                  sim_debtor_2="yes this is Maria|I'll pay next friday|yes")
    clock = ManualClock(at("2026-11-23T10:00:00-06:00"))
    worker = CampaignWorker(store, SimulatedDialer(speed=SPEED, records_dir=tmp_path), "voices", clock=clock,
                            worker_id="w")
    run(worker, [row], follow=True)
    calls = store.calls("voices")
    assert [(c.status, c.outcome, c.voice) for c in calls] == [
        ("answered", "refused", "en-joe"), ("no_answer", None, "en-kate"), ("answered", "promise_to_pay", "en-kate")]
    assert [c.conversation for c in calls] == [1, 2, 2]
    chicago = ZoneInfo("America/Chicago")
    # The campaign would redial a day later, but the first call was a conversation with the
    # debtor (us profile, Reg F): no call for 7 days after it; then +30 min after no answer.
    assert [c.started_at.astimezone(chicago).strftime("%d %a %H:%M") for c in calls] == \
        ["23 Mon 10:00", "30 Mon 10:00", "30 Mon 10:30"]
    state = store.state("voices", "V")
    assert (state.voices, state.final) == (["en-joe", "en-kate"], "resolved")
    # The voice is the one the real call session used: its saved record says so.
    record = json.loads((tmp_path / f"{calls[2].session_call_id}.json").read_text())
    assert (record["voice"], record["stage"], record["outcome"]) == ("en-kate", "mid", "promise_to_pay")


def test_opt_out_is_never_called_again_in_another_campaign(accounts, store, tmp_path):
    clock = ManualClock(at("2026-11-23T10:00:00-08:00"))
    stop = account(accounts, "EN-EARLY-1", "STOP", sim_answer="answered", sim_debtor="please take me off your list")
    first = CampaignWorker(store, SimulatedDialer(speed=SPEED, records_dir=tmp_path), "first", clock=clock)
    run(first, [stop])
    (call,) = store.calls("first")
    assert call.outcome == "opted_out"  # a real audio call in which the debtor said so
    assert store.is_opted_out("STOP") and store.state("first", "STOP").final == "opted_out"

    # A new campaign, a week later, with the same person and another: only the other is called.
    clock.advance(days=7)
    dialer = PreparedDialer(default="answered:refused")
    second = CampaignWorker(store, dialer, "second", clock=clock)
    other = account(accounts, "EN-EARLY-1", "OTHER")
    run(second, [stop, other], follow=True)
    assert {r.account.id for r in dialer.placed} == {"OTHER"}
    assert store.state("second", "STOP").final == "opted_out"

    # An opt-out that arrives while a campaign is under way (letter, complaint) also holds.
    third = CampaignWorker(store, dialer, "third", clock=clock)
    run(third, [account(accounts, "EN-MID-1", "LATER")])
    store.opt_out("LATER", clock.now(), "letter")
    clock.advance(days=1)
    before = len(dialer.placed)
    run(third, [], follow=True)
    assert len(dialer.placed) == before
    assert store.state("third", "LATER").final == "opted_out"


def test_an_expired_lease_lets_another_worker_take_the_account(accounts, store):
    clock = ManualClock(at("2026-11-23T10:00:00-08:00"))
    row = account(accounts, "EN-EARLY-1", "L")
    store.register("lease", [row], clock.now())
    dead = store.claim("lease", "L", "dead-worker", clock.now(), ttl_s=0.6, max_lines=5)
    assert not isinstance(dead, str)
    assert store.claim("lease", "L", "other", clock.now(), 5, 5) == "leased"
    dialer = PreparedDialer(default="answered:promise_to_pay")
    worker = CampaignWorker(store, dialer, "lease", clock=clock, worker_id="survivor",
                            config=CampaignConfig(poll_s=0.1))
    began = time.monotonic()
    run(worker, [row])
    assert time.monotonic() - began >= 0.4, "waited for the lease to expire"
    assert [r.account.id for r in dialer.placed] == ["L"]
    assert store.calls("lease")[0].worker == "survivor"
    # The dead worker cannot write over the state its successor left.
    assert not store.finish(dead, store.state("lease", "L").model_copy(update={"status": "pending"}),
                            store.calls("lease")[0], opt_out=False)
    assert store.state("lease", "L").final == "resolved"


def test_a_killed_worker_process_leaves_its_account_to_another(accounts, redis_url, prefix, store, tmp_path):
    """A worker process is killed mid-call (the line rings for 30 s); after its 3 s lease
    expires a second worker dials the account; the dead worker's dial still counts for caps."""
    start = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0)
    row = account(accounts, "EN-EARLY-1", "K", sim_answer="no_answer", sim_ring_s="30")
    path = tmp_path / "kill.json"
    path.write_text(json.dumps({"accounts": [row.model_dump(mode="json")]}))
    proc = subprocess.Popen(
        [*CAMPAIGN_CLI, "run", str(path), "--redis", redis_url, "--prefix", prefix,
         # a 3 s lease: with 1 s, a worker starved of CPU for a second (two busy cores) lost its
         # lease while its line rang, claimed the account again and dialled it a second time
         "--campaign", "kill", "--worker-id", "doomed", "--at", start.isoformat(), "--lease-ttl", "3",
         # records (and the contact history in them) of this test's own, not the repo's var/calls:
         # there every earlier run's dial counted, until the us profile's per_debt_in_days blocked it
         "--records", str(tmp_path / "calls"), "--no-sms", "--json"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        # Wait until the dial is under way: leased and counted (the line is ringing).
        while "doomed" not in (store.holder("K") or "") or not store.contacts_since("K", start - timedelta(hours=1)):
            assert proc.poll() is None and time.monotonic() < deadline, "worker never claimed the account"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert store.calls("kill") == [], "the killed worker never finished its call"
    dialer = PreparedDialer(default="answered:promise_to_pay")
    clock = ManualClock(start + timedelta(seconds=5))
    worker = CampaignWorker(store, dialer, "kill", clock=clock, worker_id="heir", config=CampaignConfig(poll_s=0.1))
    run(worker, [])
    (call,) = store.calls("kill")
    assert (call.worker, call.attempt, call.outcome) == ("heir", 2, "promise_to_pay")
    assert len(store.contacts_since("K", start - timedelta(hours=1))) == 2


def test_campaign_wide_line_limit_across_workers(accounts, store):
    rows = [account(accounts, "EN-EARLY-1", f"N{i}") for i in range(6)]
    clock = ManualClock(at("2026-11-23T10:00:00-08:00"))
    config = CampaignConfig(concurrency=2, poll_s=0.02)
    store.register("lines", rows, clock.now())
    workers = [CampaignWorker(store, PreparedDialer(default="answered:promise_to_pay", hold_s=0.15), "lines",
                              clock=clock, worker_id=f"w{i}", config=config) for i in range(3)]

    async def all_workers():
        await asyncio.gather(*(w.run() for w in workers))

    asyncio.run(all_workers())
    calls = store.calls("lines")
    assert sorted(c.account_id for c in calls) == [f"N{i}" for i in range(6)]
    assert overlaps([(c.wall_start, c.wall_end) for c in calls]) == 2


def test_cli_single_process_keeps_opt_outs_in_its_state_file(accounts, tmp_path):
    """Without Redis: `voicebot campaign opt-out` then `run` from the state file; the opted-out
    account is not dialled, the other one is (no answer, no audio needed)."""
    rows = [account(accounts, "EN-EARLY-1", "KEEP", sim_answer="no_answer").model_dump(mode="json"),
            account(accounts, "EN-EARLY-1", "GONE", sim_answer="no_answer").model_dump(mode="json")]
    path = tmp_path / "solo.json"
    path.write_text(json.dumps(rows))
    state = tmp_path / "state.json"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["VOICEBOT_OPT_OUT_JOURNAL"] = str(tmp_path / "opt-outs.jsonl")  # not the repo's var/calls
    base = CAMPAIGN_CLI
    subprocess.run(base + ["opt-out", "GONE", "--state", str(state)], cwd=REPO, env=env, check=True,
                   capture_output=True)
    out = subprocess.run(base + ["run", str(path), "--state", str(state), "--at", "2026-11-23T18:00:00Z",
                                 "--outbox", str(tmp_path / "outbox.jsonl"), "--json",
                                 "--records", str(tmp_path / "calls")],  # a contact history of its own too
                         cwd=REPO, env=env, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert [c["account_id"] for c in result["calls"]] == ["KEEP"]
    assert result["totals"]["opted_out"] == 1
    saved = json.loads(state.read_text())["campaign"]
    assert "GONE" in saved["optout"]
    assert '"account": "GONE"' in (tmp_path / "opt-outs.jsonl").read_text()  # journaled first
    assert saved["campaigns"]["solo"]["state"]["KEEP"]["waiting_for"] == "retry"

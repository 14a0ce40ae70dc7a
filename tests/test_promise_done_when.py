"""Issue 21, done when: "A promise made on a call, a payments CSV that does not include it,
and the next day's campaign run: the follow-up call happens, refers to the promise, and the
console's promise book shows it broken; a kept promise gets no follow-up. Tested in virtual
time."

Everything is the shipped product, driven as an operator would: `voicebot campaign run
--virtual-time` places real simulated voice calls (synthesised debtor audio through VAD, ASR,
the dialogue and TTS: voicebot/simulated_dialer.py) and records them in the records store;
`voicebot payments import` reads the lender's CSV; the console is the server's, served on a
real socket and read over HTTP as a supervisor.  Nothing is faked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from conftest import SAMPLE_ACCOUNTS
from media_server import free_port, serving
from voicebot.console.auth import add_user
from voicebot.server import ServerSettings, create_app

REPO = Path(__file__).resolve().parents[1]
VOICEBOT = [str(Path(sys.executable).with_name("voicebot"))]
LINES = "yes this is John|I can pay it on Friday|yes"


def cli(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "VOICEBOT_DATABASE_URL")}
    return subprocess.run(VOICEBOT + list(args), cwd=tmp, env=env, capture_output=True, text=True, timeout=600)


def campaign_run(tmp: Path, at: str, until: str, concurrency: int = 1) -> dict:
    done = cli("campaign", "run", "accounts.json", "--campaign", "spring", "--virtual-time", "--follow",
               "--at", at, "--until", until, "--records", "calls", "--state", "state.json",
               "--outbox", "outbox.jsonl", "--json",
               # at twice real time, not the dialer's four: the machine is shared, and a debtor
               # line heard late would make a flaky call, not a test of follow-ups
               "--concurrency", str(concurrency), "--speed", "2", tmp=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_broken_promise_gets_a_follow_up_call_that_names_it_kept_one_does_not(accounts, tmp_path):
    base = accounts["EN-EARLY-1"].model_dump(mode="json")   # Los Angeles, 2 days overdue, $1,250
    rows = [dict(base, id="KEEP", phone="+12065550131", sim_debtor=LINES),
            dict(base, id="BREAK", phone="+12065550132", sim_debtor=LINES,
                 sim_debtor_2="yes this is John|I will pay it on Friday|yes")]
    (tmp_path / "accounts.json").write_text(json.dumps(rows))

    # Monday 23 November, 10:00 in Los Angeles: both promise to pay on Friday; the campaign
    # follows them up to Friday evening (reminders on Thursday).
    # The two accounts' calls at once: they mostly wait on the line's clock (together about
    # 12 s of CPU in a 54 s run), so this week costs one call's time, not two.
    first = campaign_run(tmp_path, "2026-11-23T10:00:00-08:00", "2026-11-27T20:00:00-08:00", concurrency=2)
    assert sorted((c["account_id"], c["outcome"]) for c in first["calls"]) == [
        ("BREAK", "promise_to_pay"), ("KEEP", "promise_to_pay")]

    # The lender's payments file: KEEP paid on Friday; BREAK is not in it.
    (tmp_path / "payments.csv").write_text("account_id,amount,paid_at,reference\nKEEP,1250.00,2026-11-27,LND-1\n")
    imported = cli("payments", "import", "payments.csv", "--records", "calls", "--at", "2026-11-27T20:00:00-08:00",
                   "--json", tmp=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["judged"] == {"kept": 1}  # the accounts it paid for

    # The next days' run: Saturday's check finds BREAK unpaid; the us profile's week after a
    # conversation holds the call until Monday 30; KEEP is left alone.
    second = campaign_run(tmp_path, "2026-11-27T20:00:00-08:00", "2026-12-01T00:00:00-08:00")
    follow_ups = second["calls"]
    assert [c["account_id"] for c in follow_ups] == ["BREAK"]
    assert follow_ups[0]["started_at"] == "2026-11-30T18:00:00Z"  # Monday 10:00 in Los Angeles
    record = json.loads((tmp_path / "calls" / f"{follow_ups[0]['session_call_id']}.json").read_text())
    opening, after_identity = record["turns"][0]["bot_text"], record["turns"][1]["bot_text"]
    assert "1,250" not in opening and "November 27" not in opening  # identity first
    assert "mentioned paying $1,250 on Friday, November 27" in after_identity
    assert "hasn't reached us yet" in after_identity

    # The console's promise book, as a supervisor sees it.
    port = free_port()
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=tmp_path / "calls", tokens=["t"],
                              warm_up=False)
    app = create_app(settings)
    add_user(app.state.records, "sam", "console-pass-1", "supervisor")
    with serving(app, port), httpx.Client(base_url=f"http://127.0.0.1:{port}/console") as web:
        web.post("/login", data={"username": "sam", "password": "console-pass-1"})
        book = web.get("/promises", params={"date_to": "2026-11-27"})
        debtor = web.get("/accounts/BREAK")
    assert book.status_code == 200 and debtor.status_code == 200
    page = book.text
    assert 'data-state="broken" data-account="BREAK"' in page and 'data-state="kept" data-account="KEEP"' in page
    assert '<b id="kpi-broken">1</b>' in page and '<b id="kpi-kept">1</b>' in page
    assert '<b id="kpi-kept-rate">50.0%</b>' in page
    assert page.count('data-account="KEEP"') == 1  # one promise, no follow-up call made another
    assert debtor.text.count("data-promise=") == 2  # Friday's broken one, and the one the follow-up call heard
    assert 'data-state="broken"' in debtor.text and "followed_up: campaign spring" in debtor.text

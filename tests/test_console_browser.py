"""The supervisor console in a real browser: headless Debian Chromium (Playwright) against the
real server (uvicorn on a loopback port, `create_app` with its records store and console), with
real calls in the store.

Two real simulated calls (synthesised debtor speech through VAD, Whisper, the dialogue and
Piper) run inside the server's event loop, stored as they happen and published on the
server's in-process live bus, while an agent watches the live page; a few inserted rows add
days, stages and locales for the filters and the dashboard.  Screenshots of every page go to
tests/artifacts/console/ for review.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from conftest import CALL_DATE
from console_seed import console_app, seed_calls
from dialogue.nlu.rasa_format import load_nlu_text
from media_server import free_port
from telephony.handoff import HandoffQueue, PacketState, build_packet
from voicebot.records import attach_call
from voicebot.simulate import Simulation, parse_debtor

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "artifacts" / "console"
PASSWORD = "console-pass-1"
SPEED = 4.0
CALLS = [("EN-LATE-1", "yes this is David|let me talk to a real person"),
         ("EN-EARLY-1", "yes this is John|I can pay it on Friday|yes")]


class Server:
    """uvicorn in a thread whose loop the tests can also run coroutines on (the calls)."""

    def __init__(self, app, port: int):
        self.app, self.port = app, port
        self.loop = asyncio.new_event_loop()
        self.uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self.uv.serve()), daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.uv.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def run(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def __exit__(self, *exc) -> None:
        self.uv.should_exit = True
        self.thread.join(timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/console"


def sign_in(browser, server: Server, user: str, password: str = PASSWORD):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    return page


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def _run_calls(accounts, store, bus, records: Path) -> list[dict]:
    out = []
    for account_id, debtor in CALLS:
        sim = Simulation(accounts[account_id], parse_debtor(debtor), today=CALL_DATE, speed=SPEED,
                         records_dir=records, on_call=lambda call: attach_call(call, store, bus=bus, speed=SPEED))
        out.append((await sim.run()).summary)
    return out


def _watch_live(page, future) -> list[tuple[str, int, bool]]:
    """Poll the live page's DOM while the calls run: (call id, turns shown, ongoing)."""
    seen = []
    while not future.done():
        for box in page.query_selector_all(".live-call"):
            seen.append((box.get_attribute("data-call"), len(box.query_selector_all(".turn")),
                         "ongoing" in (box.get_attribute("class") or "")))
        if any(ongoing and n >= 2 for _, n, ongoing in seen) and not (SHOTS / "live.png").exists():
            shot(page, "live")
        time.sleep(0.3)
    return seen


@pytest.fixture(scope="module")
def console(tmp_path_factory, accounts):
    records = tmp_path_factory.mktemp("console")
    app, bus = console_app(records, PASSWORD)
    store = app.state.records
    seeded = seed_calls(store, datetime.now(UTC))
    for old in SHOTS.glob("*.png"):
        old.unlink()
    with Server(app, free_port()) as server, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--autoplay-policy=no-user-gesture-required"])
        agent = sign_in(browser, server, "alex")
        agent.goto(f"{server.url}/live")
        agent.wait_for_selector("#live-status:has-text('in progress')")
        running = server.submit(_run_calls(accounts, store, bus, records))
        seen = _watch_live(agent, running)
        summaries = running.result(timeout=10)
        store.flush()
        yield {"server": server, "browser": browser, "store": store, "bus": bus, "db": records / "records.db",
               "seeded": seeded, "summaries": summaries, "seen": seen, "agent": agent}
        browser.close()
    store.close()


def test_live_view_showed_the_calls_as_they_happened(console):
    ids = [s["call_id"] for s in console["summaries"]]
    seen = console["seen"]
    for call_id, summary in zip(ids, console["summaries"]):
        during = [n for cid, n, ongoing in seen if cid == call_id and ongoing]
        assert during, f"call {call_id} never appeared on the live page while it ran"
        # The transcript grew while the call was still going: partial transcripts, not a replay.
        assert max(during) >= 2 and min(during) < len(summary["turns"]), during
    # What the page showed is what was heard: the live box holds the stored debtor lines.
    page = console["agent"]
    page.wait_for_selector(f".live-call.ended[data-call='{ids[-1]}']", timeout=10_000)
    shown = page.inner_text(f".live-call[data-call='{ids[-1]}']")
    heard = [t["debtor_text"] for t in console["summaries"][-1]["turns"] if t["debtor_text"]]
    assert heard and all(text in shown for text in heard)


def test_agent_claims_an_escalated_call_and_sees_its_context(console, engines, accounts):
    server, bus = console["server"], console["bus"]
    session = engines["en"].start_call(accounts["EN-MID-1"], today=CALL_DATE)
    session.open()
    session.hear("yes this is Maria")
    session.hear("I want to speak to a real person")
    packet = build_packet(session)
    queue = HandoffQueue(bus, packet.queue)
    server.run(queue.submit(packet), timeout=10)
    page = console["agent"]
    page.goto(f"{console['server'].url}/live")
    row = page.wait_for_selector(f"#queue tr[data-call='{packet.call_id}'] button.claim", timeout=10_000)
    shot(page, "live-queue")
    row.click()
    page.wait_for_selector("#claim-state")
    assert "claimed by alex" in page.inner_text("#claim-state")
    assert page.inner_text("#packet-reason") == packet.reason
    assert "I want to speak to a real person" in page.inner_text("main")
    assert "+13125550102" not in page.content()  # the packet carries the masked number only
    shot(page, "handoff-packet")
    entry = server.run(queue.get(packet.call_id), timeout=10)
    assert entry.state is PacketState.CLAIMED and entry.claimed_by == "alex"


def test_sign_in_refuses_a_wrong_password_and_roles_limit_what_is_seen(console):
    browser, server = console["browser"], console["server"]
    wrong = sign_in(browser, server, "sam", "not-the-password")
    assert "Wrong user name or password" in wrong.inner_text("#login-error")
    assert wrong.url.startswith(f"{server.url}/login")
    shot(wrong, "login-refused")
    wrong.context.close()

    agent = sign_in(browser, server, "alex")
    assert agent.url.startswith(f"{server.url}/calls")
    phones = agent.locator("#calls td.phone").all_inner_texts()
    assert phones and all("*" in p for p in phones), phones
    assert "+12065550101" not in agent.content()
    assert [a.inner_text() for a in agent.query_selector_all("header nav a")] == ["Calls", "Promises", "Live"]
    response = agent.goto(f"{server.url}/scripts")
    assert response.status == 403 and "cannot open scripts" in agent.inner_text("#forbidden")
    assert agent.goto(f"{server.url}/dashboard").status == 403
    assert agent.locator("#csv").count() == 0  # agents work one call at a time: no export
    assert agent.request.get(f"{server.url}/calls.csv").status == 403
    agent.context.close()

    designer = sign_in(browser, server, "dana")
    designer.goto(f"{server.url}/scripts")
    assert "Validator:" in designer.inner_text("#locale-en")
    assert designer.locator("#stage-en-early .node.root").count() >= 1
    assert designer.locator("#node-en-early-greeting, #stage-en-early .node").count() > 3
    shot(designer, "scripts")
    assert "J*** C*****" in designer.request.get(f"{server.url}/calls.csv").text()
    designer.context.close()

    supervisor = sign_in(browser, server, "sam")
    assert "+12065550101" in supervisor.content()
    supervisor.goto(f"{server.url}/audit")
    actions = supervisor.locator("#audit td.did").all_inner_texts()
    assert "sign_in_refused" in actions and "sign_in" in actions and "denied" in actions
    shot(supervisor, "audit")
    supervisor.context.close()


def _db(console) -> sqlite3.Connection:
    return sqlite3.connect(console["db"])


def _shown_ids(page) -> list[str]:
    return page.eval_on_selector_all("#calls tbody tr", "rows => rows.map(r => r.dataset.call)")


def test_filters_sort_and_csv_match_the_store(console):
    server = console["server"]
    page = sign_in(console["browser"], server, "sam")
    with _db(console) as db:
        all_ids = {r[0] for r in db.execute("SELECT id FROM vb_calls")}
        late_esc = {r[0] for r in db.execute("SELECT id FROM vb_calls WHERE stage='late' AND escalated=1")}
        low = {r[0] for r in db.execute("SELECT id FROM vb_calls WHERE low_confidence=1")}
        mid_scores = {r[0] for r in db.execute("SELECT id FROM vb_calls WHERE score BETWEEN 20 AND 70")}
        zh = {r[0] for r in db.execute("SELECT id FROM vb_calls WHERE locale='zh'")}
        promise = {r[0] for r in db.execute("SELECT id FROM vb_calls WHERE tag_text LIKE '%,promise_to_pay,%'")}
        by_score = [r[0] for r in db.execute("SELECT id FROM vb_calls ORDER BY score DESC, id")]
    assert set(_shown_ids(page)) == all_ids and len(all_ids) == len(console["seeded"]) + 2
    # Through the form, as a supervisor would.
    page.select_option("select[name=stage]", "late")
    page.select_option("select[name=escalated]", "true")
    page.click("#apply")
    page.wait_for_load_state()
    assert set(_shown_ids(page)) == late_esc and late_esc
    shot(page, "calls-filtered")
    for query, expected in (("low_confidence=true", low), ("score_min=20&score_max=70", mid_scores),
                            ("locale=zh", zh), ("tag=promise_to_pay", promise)):
        page.goto(f"{server.url}/calls?{query}")
        assert set(_shown_ids(page)) == expected and expected, query
    page.goto(f"{server.url}/calls?sort=score&order=desc")
    assert _shown_ids(page) == by_score
    day = datetime.now(UTC).date().isoformat()  # calls are filed by when they ran, not CALL_DATE
    page.goto(f"{server.url}/calls?date_from={day}&date_to={day}")
    today = set(_shown_ids(page))
    assert {s["call_id"] for s in console["summaries"]} <= today and not today & {"seed-01", "seed-06"}
    shot(page, "calls")
    rows = list(csv.DictReader(io.StringIO(page.request.get(f"{server.url}/calls.csv?locale=zh").text())))
    assert {r["call_id"] for r in rows} == zh
    bad = page.goto(f"{server.url}/calls?score_min=lots")
    assert bad.status == 400 and "score_min" in page.content()
    page.context.close()


def test_call_page_shows_tags_and_plays_the_recording(console):
    server = console["server"]
    summary = console["summaries"][1]  # the promise call
    page = sign_in(console["browser"], server, "sam")
    page.goto(f"{server.url}/calls")
    page.click(f"#calls tr[data-call='{summary['call_id']}'] a")
    page.wait_for_selector("#transcript")
    tags = page.locator("#tags .tag").all_inner_texts()
    assert tags == summary["tags"] and "outcome:promise_to_pay" in tags
    assert page.inner_text("#outcome") == "promise_to_pay" and page.inner_text("#score") == str(summary["score"])
    intents = page.locator("#transcript .line.debtor .intent").all_inner_texts()
    assert intents == [t["nlu"]["intent"] for t in summary["turns"] if t["nlu"]]
    # Click the second turn: the recording plays from there and the turn is highlighted.
    page.click("#turn-1 .line.bot")
    page.wait_for_function("() => { const a = document.getElementById('recording');"
                           " return !a.paused && a.currentTime > 0.5; }", timeout=15_000)
    page.wait_for_selector("#transcript .turn.playing")
    position = page.evaluate("document.getElementById('recording').currentTime")
    at = page.evaluate("Number(document.querySelector('.turn.playing').dataset.at)")
    assert at <= position * 1000
    shot(page, "call")
    page.evaluate("document.getElementById('recording').pause()")
    console["store"].flush()
    with _db(console) as db:
        played = db.execute("SELECT username FROM vb_audit WHERE action='play_recording' AND target=?",
                            (summary["call_id"],)).fetchall()
    assert played == [("sam",)]
    page.context.close()


def test_a_correction_is_exported_as_rasa_nlu_data(console):
    server = console["server"]
    summary = console["summaries"][0]  # the escalation call
    turn = next(t for t in summary["turns"] if t["kind"] == "speech" and t["nlu"]["intent"] == "request_human")
    page = sign_in(console["browser"], server, "sam")
    page.goto(f"{server.url}/calls/{summary['call_id']}")
    form = page.locator(f"#turn-{turn['index']} form.correct")
    form.locator("select").select_option("dispute")
    form.locator("button").click()
    page.wait_for_selector("#message")
    assert "corrected to dispute by sam" in page.inner_text(f"#turn-{turn['index']}")
    shot(page, "call-corrected")
    exported = page.request.get(f"{server.url}/corrections.yml").text()
    examples = load_nlu_text(exported, "corrections.yml").examples
    assert [(e.text, e.intent) for e in examples] == [(turn["debtor_text"].strip(), "dispute")]
    agent = sign_in(console["browser"], server, "alex")
    assert agent.request.post(f"{server.url}/calls/{summary['call_id']}/turns/{turn['index']}/intent",
                              form={"intent": "affirm"}).status == 403
    assert agent.request.get(f"{server.url}/corrections.yml").status == 403
    page.context.close()
    agent.context.close()


def test_dashboard_figures_match_the_stored_calls(console):
    server = console["server"]
    with _db(console) as db:
        placed, connected, rpc, esc, talk = db.execute(
            "SELECT COUNT(*), SUM(connected), SUM(identity_confirmed), SUM(escalated), SUM(duration_s) "
            "FROM vb_calls").fetchone()
        ptp = db.execute("SELECT COUNT(*) FROM vb_calls WHERE identity_confirmed=1 AND outcome IN "
                         "('promise_to_pay','partial_payment')").fetchone()[0]
        lat = [r[0] for r in db.execute("SELECT latency_ms FROM vb_turns WHERE latency_ms IS NOT NULL")]
        per_stage = dict(db.execute("SELECT stage, COUNT(*) FROM vb_calls GROUP BY stage").fetchall())
    page = sign_in(console["browser"], server, "sam")
    page.goto(f"{server.url}/dashboard")
    assert page.inner_text("#kpi-placed") == str(placed)
    assert page.inner_text("#kpi-connect") == f"{100 * connected / placed:.1f}%"
    assert page.inner_text("#kpi-rpc") == f"{100 * rpc / placed:.1f}%"
    assert page.inner_text("#kpi-ptp") == f"{100 * ptp / rpc:.1f}%"
    assert page.inner_text("#kpi-escalation") == f"{100 * esc / placed:.1f}%"
    assert page.inner_text("#kpi-talk") == f"{talk / 60:.1f} min"
    assert page.inner_text("#kpi-p50") == f"{np.percentile(lat, 50):.0f} ms"
    assert page.inner_text("#kpi-p95") == f"{np.percentile(lat, 95):.0f} ms"
    # The by-stage chart of calls placed has one bar per stage with the stored count.
    chart = page.locator("#charts-by-stage svg").first
    shown = {t.get_attribute("data-label"): t.text_content() for t in chart.locator("text.chart-value").all()}
    assert shown == {stage: str(n) for stage, n in per_stage.items()}
    assert page.locator("#charts-by-day svg").count() == 8
    shot(page, "dashboard")
    page.context.close()

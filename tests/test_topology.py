"""The multi-replica deployment as processes (issue 20): one redis-server, one PostgreSQL
database, two `voicebot serve` replicas and HAProxy in front of them with the config compose
uses (`deploy/haproxy.cfg`), and a `voicebot campaign run` worker dialling through the proxy.

Everything goes through the proxy, as a carrier and a supervisor would reach the service:
a call lands on each replica; a debtor asking for a person on one replica is claimed by a
supervisor whose console requests the proxy sends to the other (signed in on the first: the
shared console secret); a campaign's calls are spread over both, their outcomes learnt from
the bus both replicas publish on.  Which replica served a call: the replica's own records
folder holds it (each replica has one here; compose shares one volume).  Which replica
answered an HTTP request: the proxy's `X-Voicebot-Replica` header; the `vb_replica` cookie
picks one, as it keeps a browser on one.

Nothing is faked: the LocalProvider plays the carrier over the real Twilio WebSocket protocol.
The calls overlap (real time, ~20 s each), in an order that makes leastconn's choices certain
(`_everything`). The replicas skip their warm-up (their first calls load the models) and are
pinned to a call date (VOICEBOT_CALL_DATE), so the calling window holds at any hour CI runs.
About 65 s of wall time on a 2-core machine at load average 8-10 (23 s starting the replicas
and the proxy, 41 s of calls, most of that the campaign worker starting).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from conftest import REPO, SAMPLE_ACCOUNTS
from media_server import free_port
from postgres_schema import own_schema
from voicebot.console.auth import add_user
from voicebot.providers.local import LocalProvider
from voicebot.records import RecordStore
from voicebot.simulate import make_lines, parse_debtor

HAPROXY_CFG = REPO / "deploy" / "haproxy.cfg"
VOICEBOT = [str(Path(sys.executable).with_name("voicebot"))]  # the venv's `voicebot`
TOKEN = "topology-token"
SECRET = "topology-console-secret-0123456789"
PASSWORD = "console-pass-1"
CALL_DATE = "2026-11-23"            # a Monday; see conftest.CALL_DATE
CAMPAIGN_AT = "2026-11-23T18:00:00+00:00"  # 10:00 in Los Angeles
START_TIMEOUT_S = 150
REPLICAS = ("r1", "r2")             # the `server` names in deploy/haproxy.cfg
DEBTOR_VOICE = "en-kate"
HANDOFF_DEBTOR = "I want to talk to a real person"       # the bot transfers at once
WRONG_NUMBER_DEBTOR = "sorry, you have the wrong number"  # the shortest whole call
HTTP_TIMEOUT_S = 30                 # a sign-in is argon2 (64 MiB) beside calls on a loaded machine


@dataclass
class Topology:
    proxy: str                                   # http://127.0.0.1:PORT
    records: dict[str, Path]                     # replica name -> its records folder
    database_url: str
    redis_url: str
    prefix: str
    env: dict[str, str]
    folder: Path
    logs: dict[str, Path] = field(default_factory=dict)

    def replica_of(self, account_id: str) -> tuple[str, dict] | None:
        """The replica whose records hold the call about this account (one call each in this
        test), and the call's first record line: written as the call starts."""
        for name, folder in self.records.items():
            for path in folder.glob("*.jsonl"):
                first = _first_line(path)
                if first.get("account") == account_id:
                    return name, first
        return None

    def summary(self, replica: str, call_id: str, timeout: float = 30) -> dict:
        path = self.records[replica] / f"{call_id}.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return json.loads(path.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.2)
        raise AssertionError(f"no summary {path}\n{self.log_tails()}")

    def log_tails(self, chars: int = 2500) -> str:
        return "\n".join(f"--- {name} ---\n{path.read_text(errors='replace')[-chars:]}"
                         for name, path in self.logs.items() if path.exists())


def _first_line(path: Path) -> dict:
    try:
        with path.open() as f:
            return json.loads(f.readline() or "{}")
    except (OSError, json.JSONDecodeError):
        return {}


def _wait_http(url: str, proc: subprocess.Popen, what: str, topo: Topology,
               timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited with {proc.returncode}\n{topo.log_tails()}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} not ready at {url} after {timeout} s\n{topo.log_tails()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # a replica drains: no call is left by now
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _server_accounts(folder: Path) -> Path:
    """The sample's English accounts (a replica warms only the locales of its accounts) plus
    two for the campaign, so no two calls share an account."""
    data = json.loads(SAMPLE_ACCOUNTS.read_text())
    data["accounts"] = [a for a in data["accounts"] if a["locale"] == "en"]
    by_id = {a["id"]: a for a in data["accounts"]}
    for new, base in (("TOPO-1", "EN-LATE-1"), ("TOPO-2", "EN-MID-1")):
        data["accounts"].append({**by_id[base], "id": new})
    path = folder / "accounts.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def topology(tmp_path_factory, redis_url, module_redis_prefix) -> Iterator[Topology]:
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if haproxy is None:
        pytest.skip("haproxy is not installed: ./setup.sh installs it (apt-get install haproxy)")
    folder = tmp_path_factory.mktemp("topology")
    accounts = _server_accounts(folder)
    procs: list[subprocess.Popen] = []
    with own_schema() as pg, contextlib.ExitStack() as logs:
        database_url = f"{pg.url}?options=-csearch_path%3D{pg.schema}"  # the schema of this test
        env = {**os.environ, "REDIS_URL": redis_url, "VOICEBOT_BUS_PREFIX": f"{module_redis_prefix}:bus",
               "VOICEBOT_OPT_OUT_PREFIX": module_redis_prefix, "VOICEBOT_DATABASE_URL": database_url,
               "VOICEBOT_CONSOLE_SECRET": SECRET, "VOICEBOT_CALL_DATE": CALL_DATE,
               "VOICEBOT_TOKENS": TOKEN, "LOGURU_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
        topo = Topology(proxy="", records={}, database_url=database_url, redis_url=redis_url,
                        prefix=module_redis_prefix, env=env, folder=folder)
        try:
            ports = {}
            for name in REPLICAS:
                ports[name] = free_port()
                topo.records[name] = folder / name / "calls"
                topo.logs[name] = folder / f"{name}.log"
                procs.append(subprocess.Popen(
                    [*VOICEBOT, "serve", "--accounts", str(accounts), "--port", str(ports[name]),
                     "--records", str(topo.records[name]), "--handoff-timeout", "40",
                     "--prompt-cache", str(folder / "prompt-cache"),  # shared, as a volume would be
                     "--no-warm-up"],  # models load at the first call: the CPU of a warm-up spared
                    cwd=REPO, env=env, stdout=logs.enter_context(topo.logs[name].open("w")),
                    stderr=subprocess.STDOUT))
            for (name, port), proc in zip(ports.items(), procs):
                _wait_http(f"http://127.0.0.1:{port}/ready", proc, f"replica {name}", topo)
            proxy_port, stats_port = free_port(), free_port()
            topo.logs["haproxy"] = folder / "haproxy.log"
            proxy_env = {**os.environ, "PROXY_BIND": f"127.0.0.1:{proxy_port}",
                         "PROXY_STATS_BIND": f"127.0.0.1:{stats_port}",
                         **{f"REPLICA_{i}": f"127.0.0.1:{ports[name]}"
                            for i, name in enumerate(REPLICAS, 1)}}
            procs.append(subprocess.Popen([haproxy, "-db", "-f", str(HAPROXY_CFG)], env=proxy_env,
                                          stdout=logs.enter_context(topo.logs["haproxy"].open("w")),
                                          stderr=subprocess.STDOUT))
            topo.proxy = f"http://127.0.0.1:{proxy_port}"
            _wait_http(f"{topo.proxy}/ready", procs[-1], "haproxy", topo)
            # Opened after the replicas migrated the fresh schema together (they take turns).
            store = RecordStore(database_url)
            add_user(store, "sam", PASSWORD, "supervisor")
            store.close()
            yield topo
        finally:
            for proc in reversed(procs):
                _stop(proc)


# -- the scenarios, run at the same time ----------------------------------------------------------
def _carrier(topo: Topology) -> LocalProvider:
    return LocalProvider(topo.proxy.replace("http", "ws", 1), token=TOKEN, debtor_voice=DEBTOR_VOICE)


async def _live_on(topo: Topology, account_id: str, running: list[asyncio.Task]) -> tuple[str, dict]:
    """The replica a call about `account_id` is live on, once it started there; a scenario in
    `running` that failed meanwhile raises its error instead of a timeout."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for task in running:
            if task.done() and task.exception() is not None:
                raise task.exception()
        found = await asyncio.to_thread(topo.replica_of, account_id)
        if found is not None:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"no replica took a call about {account_id}\n{topo.log_tails()}")


def _console_cookie(topo: Topology, replica: str) -> tuple[str, str]:
    """Sign in through the proxy, on `replica`: the console session cookie (name, value)."""
    with httpx.Client(base_url=topo.proxy, timeout=HTTP_TIMEOUT_S) as web:
        reply = web.post("/console/login", data={"username": "sam", "password": PASSWORD},
                         headers={"Cookie": f"vb_replica={replica}"})
    assert reply.status_code == 303, reply.text[:500]
    assert reply.headers["x-voicebot-replica"] == replica
    (name, value), = [(k, v) for k, v in reply.cookies.items() if k != "vb_replica"]
    return name, value


async def _handoff(topo: Topology, held_on: str, first: dict, carrier: LocalProvider, placed_id: str) -> dict:
    """Wait for the call to ask for a person; claim it from a console the proxy sends to the
    other replica, with a session signed in on the call's own replica."""
    other = next(r for r in REPLICAS if r != held_on)
    name, value = await asyncio.to_thread(_console_cookie, topo, held_on)
    cookie = {"Cookie": f"{name}={value}; vb_replica={other}"}
    async with httpx.AsyncClient(base_url=f"{topo.proxy}/console", headers=cookie, timeout=HTTP_TIMEOUT_S) as web:
        deadline = time.monotonic() + 60
        while True:
            live = await web.get("/api/live")
            assert live.status_code == 200, live.text[:500]
            assert live.headers["x-voicebot-replica"] == other
            waiting = [q for q in live.json()["queue"] if q["call_id"] == first["call_id"]]
            if waiting and waiting[0]["state"] == "waiting":
                break
            assert time.monotonic() < deadline, f"the handoff never reached the queue\n{topo.log_tails()}"
            await asyncio.sleep(0.3)
        page = f"/live/{waiting[0]['queue']}/{first['call_id']}"
        claim = await web.post(f"{page}/claim")
        assert (claim.status_code, claim.headers.get("location")) == (303, f"/console{page}"), claim.headers
        packet = await web.get(page)  # the packet the agent reads, from the other replica's console
    result = await carrier.wait(placed_id, timeout=120)
    return {"held_on": held_on, "claimed_on": claim.headers["x-voicebot-replica"], "packet": packet.status_code,
            "call_id": first["call_id"], "result": result}


async def _wrong_number(topo: Topology, replica: str, first: dict, carrier: LocalProvider, placed_id: str) -> dict:
    result = await carrier.wait(placed_id, timeout=120)
    return {"replica": replica, "call_id": first["call_id"], "result": result}


async def _campaign(topo: Topology) -> dict:
    rows = []
    for account_id, base in (("TOPO-1", "EN-LATE-1"), ("TOPO-2", "EN-MID-1")):
        row = next(a for a in json.loads(SAMPLE_ACCOUNTS.read_text())["accounts"] if a["id"] == base)
        rows.append({**row, "id": account_id, "sim_debtor": WRONG_NUMBER_DEBTOR})
    path = topo.folder / "campaign.json"
    path.write_text(json.dumps({"accounts": rows}))
    env = {k: v for k, v in topo.env.items() if k not in ("VOICEBOT_CALL_DATE", "VOICEBOT_TOKENS")}
    proc = await asyncio.create_subprocess_exec(
        *VOICEBOT, "campaign", "run", str(path), "--redis", topo.redis_url, "--prefix", topo.prefix,
        "--campaign", "topology", "--server", topo.proxy.replace("http", "ws", 1), "--token", TOKEN,
        "--database", topo.database_url, "--records", str(topo.folder / "worker"), "--at", CAMPAIGN_AT,
        "--opt-out-journal", str(topo.folder / "worker" / "opt-outs.jsonl"),
        "--concurrency", "2", "--no-sms", "--no-follow-ups", "--promise-grace", "1d", "--json",
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=180)
    finally:
        if proc.returncode is None:  # the test gave up on it
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1])


async def _everything(topo: Topology) -> dict:
    """The campaign's two calls first (no other connection: leastconn puts them on different
    replicas); while they talk, the handoff call (one replica now has one more) and then the
    wrong number (leastconn: the other replica)."""
    campaign = asyncio.create_task(_campaign(topo))
    running = [campaign]
    # While the worker starts: this process's debtor voice loads, so the calls below start at once.
    await make_lines(parse_debtor(HANDOFF_DEBTOR + "|" + WRONG_NUMBER_DEBTOR), DEBTOR_VOICE, 8000)
    for account_id in ("TOPO-1", "TOPO-2"):
        await _live_on(topo, account_id, running)
    carrier = _carrier(topo)
    handoff_call = await carrier.place_call("+12065550101", "EN-EARLY-1", debtor=HANDOFF_DEBTOR)
    held_on, handoff_first = await _live_on(topo, "EN-EARLY-1", running)
    wrong_call = await carrier.place_call("+13125550102", "EN-MID-1", debtor=WRONG_NUMBER_DEBTOR)
    wrong_on, wrong_first = await _live_on(topo, "EN-MID-1", running)
    # The console only now: an open request counts for leastconn too.
    handoff = asyncio.create_task(_handoff(topo, held_on, handoff_first, carrier, handoff_call.call_id))
    wrong = asyncio.create_task(_wrong_number(topo, wrong_on, wrong_first, carrier, wrong_call.call_id))
    results = await asyncio.gather(handoff, wrong, campaign, return_exceptions=True)
    return dict(zip(("handoff", "wrong_number", "campaign"), results))


@pytest.fixture(scope="module")
def finished(topology) -> dict:
    started = time.monotonic()
    return {**asyncio.run(_everything(topology)), "calls_s": time.monotonic() - started}


def _get(finished: dict, name: str):
    value = finished[name]
    if isinstance(value, BaseException):
        raise value
    return value


def test_the_proxy_spreads_requests_and_keeps_a_browser_on_one_replica(topology):
    seen = []
    for _ in range(6):  # no cookie, as a carrier connects: leastconn, ties taken in turn
        reply = httpx.get(f"{topology.proxy}/ready")
        assert reply.status_code == 200 and reply.json()["ready"] is True
        seen.append(reply.headers["x-voicebot-replica"])
    assert set(seen) == set(REPLICAS), seen
    with httpx.Client(base_url=topology.proxy) as browser:  # keeps the proxy's vb_replica cookie
        first = browser.get("/console/login")
        assert first.status_code == 200 and browser.cookies.get("vb_replica") in REPLICAS
        assert {browser.get("/console/login").headers["x-voicebot-replica"] for _ in range(4)} == {
            first.headers["x-voicebot-replica"]}


def test_a_call_on_each_replica(topology, finished):
    handoff, wrong = _get(finished, "handoff"), _get(finished, "wrong_number")
    assert {handoff["held_on"], wrong["replica"]} == set(REPLICAS), (handoff["held_on"], wrong["replica"])
    summary = topology.summary(wrong["replica"], wrong["call_id"])
    assert summary["outcome"] == "wrong_party" and summary["account"] == "EN-MID-1"
    assert wrong["result"].status == "completed"


def test_a_handoff_published_on_one_replica_is_claimed_from_the_others_console(topology, finished):
    handoff = _get(finished, "handoff")
    assert handoff["claimed_on"] != handoff["held_on"]
    assert handoff["packet"] == 200
    summary = topology.summary(handoff["held_on"], handoff["call_id"])
    assert summary["outcome"] == "escalated"
    assert "handoff:claimed" in summary["tags"], summary["tags"]
    transfer = next(a for a in summary["carrier_actions"] if a["kind"] == "transfer")
    assert (transfer["status"], transfer["agent_id"]) == ("done", "sam"), transfer


def test_a_campaign_through_the_proxy_is_spread_over_both_replicas(topology, finished):
    campaign = _get(finished, "campaign")
    calls = {c["account_id"]: c for c in campaign["calls"]}
    assert set(calls) == {"TOPO-1", "TOPO-2"}
    served = {}
    for account_id, call in calls.items():
        assert (call["status"], call["outcome"]) == ("answered", "wrong_party"), call
        replica = next((r for r, folder in topology.records.items()
                        if (folder / f"{call['session_call_id']}.json").exists()), None)
        assert replica is not None, f"no replica wrote {account_id}'s call"
        served[account_id] = replica
    assert set(served.values()) == set(REPLICAS), served
    print(f"topology: calls took {finished['calls_s']:.1f} s")

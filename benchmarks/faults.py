"""Faults and attacks while calls run: what the debtors on live calls notice, and what is lost.

    .venv/bin/python benchmarks/faults.py [--calls 10] [--phase-s 60] [--phases quiet,sockets,...]
        [--opt-outs 3] [--handoffs 3] [--json var/bench/faults.json]

One `voicebot serve` (a child process, as `voicebot bench` runs it) with its records folder on a
small tmpfs of its own (so the disk can really fill; root is needed to mount it, else the disk
phase is skipped) and its live bus, agent queue and campaign store on a private, persistent
redis-server. `--calls` simulated carriers keep
calls going throughout (Twilio Media Streams, scripted debtors in real time); each phase runs
them for `--phase-s` and, from a quarter of the way in, one fault:

- quiet: nothing (the reference figures);
- sockets: 1,000 WebSockets to /media/twilio that never send a byte, from 20 loopback addresses;
- sign_in: 200 wrong console sign-ins, 40 at a time, from 40 addresses;
- redis: the bus's redis-server SIGKILLed, started again 10 s later;
- disk: the records filesystem filled to the last byte for 20 s, then freed.

A 20 s quiet warm-up, not reported, comes first. Reported per phase: calls completed with their scripted outcome, the debtors' reply latency p50 /
p95 (carrier side: last voiced frame to the bot's first audio) against the quiet phase, /health
probes (failures, p50 / max), what /ready said, turns lost (turns the call summaries hold against
the rows the records database holds once the phase is over), and the server log's error lines.

In the quiet and redis phases, besides those calls, `--opt-outs` calls say "please stop calling
me" and `--handoffs` calls ask for a real person, their decisive line said once the fault is on
(voicebot/bench/fault_probes.py); after the phase: opt-outs heard / kept (the account refused
at its next call start, in the opt-out journal and the campaign store) and handoffs / queued
(the packet in the agent queue).  The quiet phase's are the control.
Nothing is asserted: this measures. Method and figures: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


import httpx  # noqa: E402
import numpy as np  # noqa: E402
import websockets  # noqa: E402

from voicebot.bench.carriers import CarrierPool, prepare_lines  # noqa: E402
from voicebot.bench.fault_probes import (ProbeCalls, add_account_copies, check_probes,  # noqa: E402
                                         prepare_probe_lines, probe_accounts)
from voicebot.bench.metrics import call_failure, read_records  # noqa: E402
from voicebot.bench.scenarios import write_accounts  # noqa: E402
from voicebot.bench.redis_server import RedisProcess  # noqa: E402
from voicebot.bench.server import BenchServer  # noqa: E402
from voicebot.cli.logging_setup import quiet_logs  # noqa: E402

PHASES = ("quiet", "sockets", "sign_in", "redis", "disk")
PROBED = ("quiet", "redis")  # phases with opt-out and handoff calls (quiet: the control)
BUS_PREFIX = "faults:"
CAMPAIGN_PREFIX = "voicebot"  # `voicebot serve --opt-out-prefix`'s default (the flag wins over the env)
TMPFS_MB = 256
PASSWORD = "faults-bench-password"


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def mount_tmpfs(folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    return done.returncode == 0


def unmount(folder: Path) -> None:
    """Detached at once even while this process still holds one of its files open (then the
    kernel frees it when the process exits)."""
    if subprocess.run(["umount", "--lazy", str(folder)], capture_output=True).returncode:
        print(f"could not unmount the tmpfs on {folder}: `umount {folder}` by hand", file=sys.stderr)


# -- faults -------------------------------------------------------------------------------
async def idle_sockets(port: int, n: int = 1000, addresses: int = 20) -> dict:
    async def one(i: int):
        try:
            return await asyncio.wait_for(websockets.connect(
                f"ws://127.0.0.1:{port}/media/twilio", local_addr=(f"127.0.0.{2 + i % addresses}", 0),
                open_timeout=10, close_timeout=1), 10)
        except Exception as exc:  # noqa: BLE001 - refused at the handshake counts as refused
            return exc
    sockets = await asyncio.gather(*(one(i) for i in range(n)))
    opened = [s for s in sockets if not isinstance(s, Exception)]
    codes: dict[str, int] = {}

    async def outcome(ws) -> None:
        try:
            await asyncio.wait_for(ws.wait_closed(), 15)
            key = str(ws.close_code)
        except asyncio.TimeoutError:
            key = "held >15 s"
            await ws.close()
        codes[key] = codes.get(key, 0) + 1
    await asyncio.gather(*(outcome(ws) for ws in opened))
    return {"sockets": n, "refused_at_handshake": n - len(opened), "close_codes": codes}


async def sign_in_flood(port: int, n: int = 200, at_once: int = 40) -> dict:
    statuses: dict[int, int] = {}
    gate = asyncio.Semaphore(at_once)

    async def one(i: int) -> None:
        async with gate:
            transport = httpx.AsyncHTTPTransport(local_address=f"127.0.1.{1 + i % at_once}")
            async with httpx.AsyncClient(transport=transport, timeout=30) as web:
                try:
                    reply = await web.post(f"http://127.0.0.1:{port}/console/login",
                                           data={"username": "sam", "password": f"wrong-{i}"})
                    statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
                except httpx.HTTPError:
                    statuses[0] = statuses.get(0, 0) + 1
    await asyncio.gather(*(one(i) for i in range(n)))
    return {"attempts": n, "status_codes": statuses}


async def redis_outage(redis: RedisProcess, down_s: float = 10.0) -> dict:
    killed_at = time.time()
    redis.kill()
    await asyncio.sleep(down_s)
    await asyncio.to_thread(redis.start)
    return {"down_s": down_s, "killed_at": killed_at, "back_at": time.time()}


async def disk_full(folder: Path, full_s: float = 20.0) -> dict:
    filler = folder / "filler.bin"
    with filler.open("wb") as out:  # to the last byte the filesystem has
        try:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
        except OSError:
            pass
    await asyncio.sleep(full_s)
    filler.unlink()
    return {"full_s": full_s}


# -- probes -------------------------------------------------------------------------------
async def probe(port: int, stop: asyncio.Event, every_s: float = 0.5) -> dict:
    health_ms, health_failed, ready = [], 0, {}
    async with httpx.AsyncClient(timeout=5) as web:
        while not stop.is_set():
            started = time.monotonic()
            try:
                (await web.get(f"http://127.0.0.1:{port}/health")).raise_for_status()
                health_ms.append((time.monotonic() - started) * 1000)
            except httpx.HTTPError:
                health_failed += 1
            try:
                reply = await web.get(f"http://127.0.0.1:{port}/ready")
                failing = sorted(k for k, c in reply.json()["checks"].items() if not c["ok"])
                key = "ready" if reply.status_code == 200 else "not ready: " + ",".join(failing)
            except (httpx.HTTPError, ValueError, KeyError):
                key = "no answer"
            ready[key] = ready.get(key, 0) + 1
            await asyncio.sleep(every_s)
    return {"health_probes": len(health_ms) + health_failed, "health_failed": health_failed,
            "health_ms_p50": pct(health_ms, 50), "health_ms_max": round(max(health_ms, default=0), 1),
            "ready": ready}


def stored_turns(db_path: Path) -> dict[str, int]:
    """Turn rows per carrier call id in the records database (what the console shows)."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT c.extra, COUNT(t.call_id) FROM vb_calls c LEFT JOIN vb_turns t "
                          "ON t.call_id = c.id GROUP BY c.id").fetchall()
    out = {}
    for extra, count in rows:
        carrier_id = json.loads(extra or "{}").get("carrier_call_id")
        if carrier_id:
            out[carrier_id] = count
    return out


async def run_phase(name: str, server: BenchServer, lines, args, redis: RedisProcess, records: Path,
                    probe_lines=None) -> dict:
    port = server.processes[0].port
    faults = {"quiet": None, "sockets": lambda: idle_sockets(port), "sign_in": lambda: sign_in_flood(port),
              "redis": lambda: redis_outage(redis), "disk": lambda: disk_full(records)}
    log = server.processes[0].log_path
    log_from = log.stat().st_size
    load_before = os.getloadavg()
    pool = CarrierPool(server.url_for, lines, args.calls, args.phase_s, 0.5, redial_pause_s=1.0)
    stop = asyncio.Event()
    prober = asyncio.create_task(probe(port, stop))

    fault_on = asyncio.Event()
    outage_calls = None
    if probe_lines is not None:
        outage_calls = ProbeCalls(server.url_for(0), probe_lines, probe_accounts(name, args.opt_outs, args.handoffs),
                             args.phase_s / 4, fault_on.is_set)

    async def inject() -> dict | None:
        await asyncio.sleep(args.phase_s / 4)
        fault_on.set()
        return None if faults[name] is None else await faults[name]()
    fault, *_ = await asyncio.gather(inject(), pool.run(), outage_calls.run() if outage_calls else asyncio.sleep(0))
    stop.set()
    probes = await prober
    runs = pool.runs + ([c.run for c in outage_calls.calls] if outage_calls else [])
    ids = {run.result.call_id for run in runs}
    summaries = await asyncio.to_thread(read_records, records, ids, 60)
    await asyncio.sleep(3)  # the store's writer commits what waited
    in_db = await asyncio.to_thread(stored_turns, records / "records.db")
    kept = None
    if outage_calls is not None:  # the fault is over: were the opt-outs kept, the handoffs queued?
        outage = (fault["killed_at"], fault["back_at"]) if fault and "killed_at" in fault else None
        kept = await check_probes(outage_calls.calls, summaries, server.url_for(0), records,
                                  redis.url, BUS_PREFIX, CAMPAIGN_PREFIX, outage)
    latencies = [ms for run in pool.runs for ms in run.result.latencies_ms]
    failed = [call_failure(run, summaries.get(run.result.call_id)) for run in pool.runs]
    lost = sum(max(0, len(s.get("turns", [])) - in_db.get(cid, 0)) for cid, s in summaries.items())
    errors = [line for line in log.read_text(errors="replace")[log_from:].splitlines()
              if "ERROR" in line or "No space left" in line]
    return {"phase": name, "fault": fault, "load_average": {"before": load_before, "after": os.getloadavg()},
            "calls": len(pool.runs),
            "completed": sum(f is None for f in failed), "failures": sorted({f for f in failed if f}),
            "reply_ms_p50": pct(latencies, 50), "reply_ms_p95": pct(latencies, 95), **probes,
            "turns_in_summaries": sum(len(s.get("turns", [])) for s in summaries.values()),
            "turns_lost_in_database": lost, "log_error_lines": len(errors), "log_sample": errors[:3],
            **(kept or {})}


async def main(args) -> list[dict]:
    out = Path(args.out)
    if out.exists():
        subprocess.run(["umount", str(out / "records")], capture_output=True)
        shutil.rmtree(out)
    records = out / "records"
    tmpfs = mount_tmpfs(records)
    phases = [p for p in args.phases.split(",") if p != "disk" or tmpfs]
    if not tmpfs:
        print("no tmpfs (not root?): the disk phase is skipped", file=sys.stderr)
    # Persistent, as a Redis holding handoff packets and opt-outs must be (append-only file,
    # fsync'd on every write): a cache-only one forgets every queued packet when killed.
    redis = RedisProcess(out, persistent=True)
    redis.start()
    from voicebot.console.auth import add_user
    from voicebot.records.store import RecordStore
    store = RecordStore(f"sqlite:///{records / 'records.db'}")
    add_user(store, "sam", PASSWORD, "supervisor")
    store.close()
    accounts = write_accounts(out / "accounts.json")
    probed = [p for p in phases if p in PROBED and args.opt_outs + args.handoffs]
    for phase in probed:  # each opt-out call needs an account of its own
        add_account_copies(accounts, probe_accounts(phase, args.opt_outs, args.handoffs))
    lines = await prepare_lines()
    probe_lines = await prepare_probe_lines() if probed else None
    server = BenchServer(accounts, records, extra_env={
        "REDIS_URL": redis.url, "VOICEBOT_BUS_PREFIX": BUS_PREFIX, "VOICEBOT_READY_MIN_FREE_MB": "1",
        # the campaigns' store on the same Redis: the server checks and copies opt-outs there too
        "VOICEBOT_OPT_OUT_REDIS_URL": redis.url})
    results = []
    try:
        await asyncio.to_thread(server.start)
        # Unmeasured: the first calls render what later ones take from the prompt cache.
        await run_phase("quiet", server, lines, argparse.Namespace(calls=args.calls, phase_s=20.0), redis, records)
        for name in phases:
            result = await run_phase(name, server, lines, args, redis, records,
                                     probe_lines if name in probed else None)
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        await asyncio.to_thread(server.stop)
        redis.kill()
        if tmpfs:
            unmount(records)
    return results


def _kept(r: dict, kind: str, done: str) -> str:
    """"heard/kept (in the fault: heard/kept)" for opt-outs, the same for handoffs/queued."""
    if kind not in r:
        return "-"
    k = r[kind]
    return f"{k['heard']}/{k[done]} ({k['heard_in_fault']}/{k[done + '_in_fault']})"


def show(results: list[dict]) -> None:
    quiet = next((r["reply_ms_p95"] for r in results if r["phase"] == "quiet"), None)
    print(f"\n{'phase':8} {'calls ok':>9} {'reply p50/p95 ms':>17} {'x quiet':>7} {'/health fail, p50/max ms':>25} "
          f"{'turns lost':>10} {'opt-outs heard/kept':>20} {'handoffs/queued':>16}  /ready")
    for r in results:
        ratio = f"{r['reply_ms_p95'] / quiet:.2f}" if quiet and r["reply_ms_p95"] else "-"
        print(f"{r['phase']:8} {r['completed']:>4}/{r['calls']:<4} {r['reply_ms_p50']!s:>8}/{r['reply_ms_p95']!s:<8} "
              f"{ratio:>7} {r['health_failed']:>6}, {r['health_ms_p50']!s:>6}/{r['health_ms_max']!s:<8} "
              f"{r['turns_lost_in_database']:>10} {_kept(r, 'opt_outs', 'kept'):>20} "
              f"{_kept(r, 'handoffs', 'queued'):>16}  {r['ready']}")
        if r["fault"]:
            print(f"{'':8} fault: {r['fault']}")
        if r["failures"]:
            print(f"{'':8} failed: {r['failures']}")
        if r.get("probe_failures"):
            print(f"{'':8} opt-out/handoff calls failed: {r['probe_failures']}")
        print(f"{'':8} load average before/after: {r['load_average']['before'][0]:.2f} / "
              f"{r['load_average']['after'][0]:.2f}")
    print("opt-outs and handoffs: heard/kept over the phase (in brackets: those said while the fault was on)")


if __name__ == "__main__":
    quiet_logs()  # warnings only, unless LOGURU_LEVEL
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--phase-s", type=float, default=60.0)
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--opt-outs", type=int, default=3, help="opt-out calls in the quiet and redis phases")
    parser.add_argument("--handoffs", type=int, default=3, help="handoff calls in the quiet and redis phases")
    parser.add_argument("--out", default="var/bench/faults")
    parser.add_argument("--json", default="var/bench/faults.json")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    show(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"JSON: {args.json}")

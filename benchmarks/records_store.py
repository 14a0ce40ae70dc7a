"""Records-store benchmark: what storing a call costs the call, and how soon a turn is on disk.

    .venv/bin/python benchmarks/records_store.py [--calls 200] [--url sqlite:///var/bench/records.db]
        [--url postgresql://user@host/db --schema bench]

Runs real text dialogue sessions (the engine, no audio) with the store attached and measures,
per turn: the time the session's turn listener takes (what the audio loop pays) and the time
until the writer thread has committed the turn (what a crash could lose).  Also the console's
list and dashboard queries over everything stored.  Nothing is asserted: this measures.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import event

from dialogue.accounts import load_accounts
from dialogue.engine import engine_for
from voicebot.records import RecordStore, attach_session
from voicebot.recording.call_record import percentile
from voicebot.records.queries import CallFilter, dashboard, list_calls

ACCOUNTS = Path(__file__).resolve().parents[1] / "scripts" / "accounts" / "sample_accounts.json"
LINES = {"EN-EARLY-1": ["yes this is John", "how much do I owe", "I can pay it on Friday"],
         "EN-MID-1": ["yes speaking", "I'm not paying that", "no"],
         "EN-LATE-1": ["yes this is David", "let me talk to a real person"]}


def run(url: str, calls: int, schema: str | None = None) -> dict[str, float | None]:
    store = RecordStore(url, schema=schema)
    committed: dict[int, float] = {}

    @event.listens_for(store.engine, "commit")
    def _on_commit(_conn) -> None:  # the writer thread commits one queued write at a time
        committed[threading.get_ident()] = time.perf_counter()

    accounts = {a.id: a for a in load_accounts(ACCOUNTS)}
    engine = engine_for("en")
    listener_us, to_disk_ms = [], []
    for i in range(calls):
        account_id = list(LINES)[i % len(LINES)]
        session = engine.start_call(accounts[account_id], today=date(2026, 11, 23))
        link = attach_session(store, session)
        original = link.on_turn

        def timed(turn, _orig=original) -> None:
            t0 = time.perf_counter()
            _orig(turn)
            listener_us.append((time.perf_counter() - t0) * 1e6)
        session.listeners[session.listeners.index(original)] = timed
        session.open()
        for line in LINES[account_id]:
            t0 = time.perf_counter()
            session.hear(line)
            store.flush()  # wait for the commit, to time it (a call never does this)
            to_disk_ms.append((max(committed.values()) - t0) * 1000)
        link.finish()
    store.flush()
    t0 = time.perf_counter()
    with store.session() as db:
        listed = len(list_calls(db, CallFilter(limit=10000)))
        q_list = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        dashboard(db)
        q_dash = (time.perf_counter() - t0) * 1000
    store.close()
    return {"calls": listed, "listener p50 µs": percentile(listener_us, 50),
            "listener p95 µs": percentile(listener_us, 95), "turn on disk p50 ms": percentile(to_disk_ms, 50),
            "turn on disk p95 ms": percentile(to_disk_ms, 95), "list query ms": q_list, "dashboard ms": q_dash}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--url", action="append", help="database URL (repeatable); default a temp SQLite file")
    parser.add_argument("--schema", help="PostgreSQL schema to write into (must exist)")
    args = parser.parse_args()
    urls = args.url or [f"sqlite:///{Path(tempfile.mkdtemp()) / 'records.db'}"]
    table = Table(title=f"records store, {args.calls} text calls")
    table.add_column("figure")
    results = {}
    for url in urls:
        table.add_column(url.split("://")[0])
        results[url] = run(url, args.calls, args.schema if url.startswith("postgresql") else None)
    for key in next(iter(results.values())):
        table.add_row(key, *[f"{r[key]:.1f}" if isinstance(r[key], float) else str(r[key]) for r in results.values()])
    Console().print(table)


if __name__ == "__main__":
    main()

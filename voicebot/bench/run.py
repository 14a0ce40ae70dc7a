"""One benchmark level end to end, and a sweep over several levels.

Each level gets a fresh server (so memory and CPU figures are that level's alone, and a server
that falls over at 40 calls cannot spoil the 10-call figures), its own records folder and stats
log.  The debtors' audio is rendered once for the whole sweep, before any clock starts.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicebot.bench import profile
from voicebot.bench.carriers import CarrierPool, prepare_lines
from voicebot.bench.metrics import read_records, summarise_level
from voicebot.bench.scenarios import SCENARIOS, write_accounts
from voicebot.bench.server import BenchServer, ResourceSampler
from voicebot.transports.simulated.debtor import DebtorLine


WARM_UP_CALLS = len(SCENARIOS)  # one of each scripted debtor


@dataclass
class BenchConfig:
    calls: list[int]
    duration_s: float
    stagger_s: float
    out: Path
    workers: int = 1
    server_env: dict[str, str] = field(default_factory=dict)  # e.g. thread limits under test
    profile: bool = False  # py-spy each server worker over the level's duration
    cold_cache: bool = False  # no prompt-cache folder: every level's server renders from scratch

    @property
    def prompt_cache(self) -> Path:
        """Where the servers keep rendered script text: shared by every level and every run, as a
        deployment keeps it across restarts (`voicebot serve --prompt-cache`)."""
        return self.out / "prompt-cache"

    def __post_init__(self) -> None:
        if not self.calls or any(n < 1 for n in self.calls):
            raise ValueError(f"--calls needs positive numbers of calls (got {self.calls})")
        if self.duration_s <= 0 or self.stagger_s < 0:
            raise ValueError("--duration must be > 0 and --stagger >= 0")
        if self.workers < 1:
            raise ValueError("--workers must be at least 1")


async def run_level(config: BenchConfig, calls: int,
                    lines: asyncio.Task[dict[str, list[DebtorLine]]],
                    folder_name: str | None = None) -> dict[str, Any]:
    """`lines` is the debtors' audio being rendered; the first level renders it while its
    server warms up, and no clock starts before both are done."""
    folder = config.out / (folder_name or f"calls-{calls}")
    if folder.exists():
        shutil.rmtree(folder)  # this run's own output from an earlier run
    accounts = write_accounts(folder / "accounts.json")
    stats_log = folder / "server-stats.jsonl"
    server = BenchServer(accounts, folder / "records", config.workers, stats_log, dict(config.server_env),
                         prompt_cache=None if config.cold_cache else config.prompt_cache)
    await asyncio.to_thread(server.start)
    try:
        debtors = await lines
        sampler = ResourceSampler([p.process.pid for p in server.processes])
        load_before = os.getloadavg()
        started = time.time()
        sampler.start()
        spies = [profile.start(p.process.pid, folder / f"profile-{i}.txt", config.duration_s)
                 for i, p in enumerate(server.processes)] if config.profile else []
        pool = CarrierPool(server.url_for, debtors, calls, config.duration_s, config.stagger_s)
        carrier_cpu = time.process_time()  # this process: the carriers share the machine's cores
        try:
            wall_s = await pool.run()
            carrier_cpu = time.process_time() - carrier_cpu
        finally:
            sampler.stop()
            for spy in spies:
                await asyncio.to_thread(spy.wait)
        ids = {run.result.call_id for run in pool.runs}
        records = await asyncio.to_thread(read_records, folder / "records", ids)
    finally:
        await asyncio.to_thread(server.stop)
    level = summarise_level(calls, pool.runs, records, wall_s=wall_s, active=pool.active_samples,
                            cpu=sampler.cpu_percent, rss=sampler.rss_mb, cpu_seconds=sampler.cpu_seconds,
                            lag_ms=pool.lag.lags_ms,
                            stats_log=stats_log, stats_since=started, load_before=load_before,
                            full_window=((calls - 1) * config.stagger_s, config.duration_s))
    level["carrier_cpu_percent"] = 100 * carrier_cpu / wall_s if wall_s else None
    level["load_average_after"] = list(os.getloadavg())
    level["workers"] = config.workers
    if config.profile:
        level["profile"] = [profile.summarise(path) for path in sorted(folder.glob("profile-*.txt"))]
    return level


async def run_bench(config: BenchConfig, on_level=None) -> list[dict[str, Any]]:
    """Every level in order; `on_level(level)` is told each as it finishes (progress output)."""
    lines = asyncio.create_task(prepare_lines())
    levels = []
    if not config.cold_cache and not any(config.prompt_cache.rglob("*.pcm")):
        # A first run fills the folder with one unmeasured call per scenario, so every level
        # measures a server in its steady state rather than one rendering its script for the
        # first time (that is what --cold-cache measures).
        warm = BenchConfig([WARM_UP_CALLS], 1.0, 0.0, config.out, 1, dict(config.server_env))
        await run_level(warm, WARM_UP_CALLS, lines, folder_name="warm-up")
    for calls in config.calls:
        level = await run_level(config, calls, lines)
        levels.append(level)
        if on_level is not None:
            on_level(level)
    return levels

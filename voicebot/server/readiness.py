"""Whether this server should be given new calls: `/ready`, beside `/health` (alive).

A server can be alive and still harm every call it takes: a full disk (records and recordings
not written, see voicebot/recording), a records database that is away (writes waiting,
voicebot/records/store.py), a bus that is gone (no live board, no agent queue). A load balancer
or an operator asks `/ready`; it answers 503 and names each failing part, while `/health` keeps
saying the process is up.  A server draining for a shutdown answers 503 too ("draining"), so a
proxy stops sending it calls while the live ones finish.  Every check is bounded in time, so
`/ready` answers even when what it checks hangs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

from telephony.bus.base import Bus
from voicebot.server.drain import Drain

PROBE = ".ready-probe"
CHECK_TIMEOUT_S = 2.0


def disk_check(folder: Path, min_free_mb: int) -> dict[str, Any]:
    """Free space in the records folder and a real write to it (a write the disk refuses shows
    even when free space looks fine: a read-only remount, quotas, ENOSPC on the journal)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        free_mb = shutil.disk_usage(folder).free / 2**20
        fd = os.open(folder / PROBE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"ready\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        (folder / PROBE).unlink(missing_ok=True)
    except OSError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    ok = free_mb >= min_free_mb
    return {"ok": ok, "free_mb": round(free_mb), **({} if ok else {"error": f"under {min_free_mb} MB free"})}


def store_check(store: Any) -> dict[str, Any]:
    """The records store's writer: waiting on an away database, and writes given up so far."""
    if store is None:
        return {"ok": True, "detail": "no records store"}
    unavailable = getattr(store, "unavailable", None)
    return {"ok": unavailable is None, "failed_writes": getattr(store, "failures", 0),
            **({"error": unavailable} if unavailable else {})}


async def bus_check(bus: Bus | None) -> dict[str, Any]:
    if bus is None:
        return {"ok": True, "detail": "no bus"}
    try:
        await asyncio.wait_for(bus.check(), CHECK_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - any failure of the bus is "not ready", named
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__}
    return {"ok": True}


async def readiness(records_dir: Path, min_free_mb: int, store: Any, bus: Bus | None,
                    drain: Drain | None = None) -> tuple[bool, dict[str, Any]]:
    """(ready, {part: its check}); the disk probe runs off the event loop and is bounded too.
    A draining server (SIGTERM, voicebot/server/drain.py) is not ready, whatever else holds."""
    try:
        disk = await asyncio.wait_for(asyncio.to_thread(disk_check, records_dir, min_free_mb), CHECK_TIMEOUT_S)
    except asyncio.TimeoutError:
        disk = {"ok": False, "error": f"the records disk did not answer in {CHECK_TIMEOUT_S} s"}
    checks = {"records_disk": disk, "records_store": store_check(store), "bus": await bus_check(bus)}
    if drain is not None:
        checks["draining"] = drain.check()
    return all(c["ok"] for c in checks.values()), checks

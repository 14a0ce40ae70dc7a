"""Injectable clocks: every decision about *when* (calling windows, caps, retries, SMS windows)
reads the time from one of these, so tests and demos can run a campaign at any instant and let
days pass in milliseconds.

Leases and concurrency slots are the exception: they protect against a worker process dying,
which happens in real time, so they expire on the Redis server's (or the process's) own clock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


def utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_instant(text: str) -> datetime:
    """ISO 8601 with an offset (`2026-11-23T09:00-08:00`), or naive meaning UTC."""
    return utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait until `seconds` have passed on this clock."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ShiftedClock:
    """Real time flowing from a chosen start (`--at`): a run behaves as if started then, and
    several worker processes given the same start still agree on the time."""

    def __init__(self, start: datetime, started_wall: float | None = None):
        self._start = utc(start)
        self._wall0 = time.time() if started_wall is None else started_wall

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.time() - self._wall0)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """Time that moves only when told to: sleeping jumps ahead at once.  For tests and for
    `--virtual-time` demos, where a retry two hours later happens in no time.  One process only:
    other processes cannot see its time."""

    def __init__(self, start: datetime):
        self._now = utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        self._now += timedelta(seconds=seconds, **delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = utc(when)

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._now += timedelta(seconds=seconds)
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would

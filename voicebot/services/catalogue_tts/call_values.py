"""A call's own rendered values (names, exact amounts): never shared, kept for the call only.

A value the call said before ("$125" twice) is replayed.  A value the dialogue is *likely* to
say next (`StagePolicy.likely_first_prompts`: "Thank you, Maria." after the greeting) can be
rendered while the debtor is still talking, at a lower priority than any audio due now, so
the reply's first words need no synthesis when the turn ends.  A prefetch that has not finished
when its value is needed is dropped and the value rendered at once (a queued render cannot be
made more urgent); one nobody asked for costs its synthesis only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

KEPT = 64  # distinct values per call; a call speaks a handful


class CallValues:
    def __init__(self, kept: int = KEPT):
        self._kept = kept
        self._done: dict[tuple[str, int], bytes] = {}
        self._coming: dict[tuple[str, int], asyncio.Task[bytes]] = {}
        self.prefetched_used = 0

    def __contains__(self, key: tuple[str, int]) -> bool:
        return key in self._done or key in self._coming

    def put(self, key: tuple[str, int], pcm: bytes) -> None:
        if len(self._done) < self._kept:
            self._done[key] = pcm

    def take(self, key: tuple[str, int]) -> tuple[bytes | None, bool]:
        """The value's audio if said before or prefetched and finished (else None), and
        whether it came from a prefetch (synthesised for this turn, not replayed)."""
        task = self._coming.pop(key, None)
        if task is not None:
            if task.done() and not task.cancelled() and task.exception() is None:
                self.put(key, task.result())
                self.prefetched_used += 1
                return task.result(), True
            task.cancel()
        return self._done.get(key), False

    def prefetch(self, key: tuple[str, int], render: Callable[[], Awaitable[bytes]]) -> None:
        if key in self or len(self._done) + len(self._coming) >= self._kept:
            return

        async def run() -> bytes:
            return await render()

        self._coming[key] = asyncio.get_running_loop().create_task(run())

    async def close(self) -> None:
        """Cancel what is still being prefetched (the call is over)."""
        for task in self._coming.values():
            task.cancel()
        for task in self._coming.values():
            with contextlib.suppress(BaseException):
                await task
        self._coming.clear()

"""The inference executor runs the most urgent work first and never loses a result or an error."""

from __future__ import annotations

import asyncio
import threading

import pytest

from voicebot.services.deadline_executor import DeadlineExecutor


def test_queued_work_runs_earliest_deadline_first():
    executor = DeadlineExecutor(workers=1)
    started, gate, order = threading.Event(), threading.Event(), []
    busy = executor.submit(0.0, lambda: (started.set(), gate.wait()))  # holds the only worker
    assert started.wait(5)
    # A later piece of one reply (due in 3 s), a turn's transcript (due now), another call's
    # next sentence (due in 1 s), and a tie with the transcript (runs after it: submitted later).
    futures = [executor.submit(deadline, order.append, name)
               for deadline, name in ((3.0, "third piece"), (0.5, "transcript"),
                                      (1.0, "next sentence"), (0.5, "first piece"))]
    assert executor.pending() == 4
    gate.set()
    for future in [busy, *futures]:
        future.result(timeout=5)
    assert order == ["transcript", "first piece", "next sentence", "third piece"]


def test_errors_reach_the_caller_and_the_worker_survives():
    executor = DeadlineExecutor(workers=2)

    async def main():
        with pytest.raises(ZeroDivisionError):
            await executor.run(0.0, lambda: 1 / 0)
        return await executor.run(0.0, sum, [1, 2, 3])

    assert asyncio.run(main()) == 6
    with pytest.raises(ValueError, match="at least one"):
        DeadlineExecutor(workers=0)

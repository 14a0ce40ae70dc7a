"""The inference executor runs the most urgent work first and never loses a result or an error."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from voicebot.services import thread_priority
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


def _nice(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def test_inference_threads_run_below_the_event_loop(monkeypatch):
    monkeypatch.setenv("VOICEBOT_INFERENCE_NICE", "7")
    executor = DeadlineExecutor(workers=2)
    here = threading.get_native_id()
    inside = {executor.submit(0.0, threading.get_native_id).result(timeout=5) for _ in range(8)}
    assert here not in inside
    assert {_nice(tid) for tid in inside} == {min(19, _nice(here) + 7)}

    monkeypatch.setenv("VOICEBOT_INFERENCE_NICE", "0")  # turned off: the workers keep our priority
    plain = DeadlineExecutor(workers=1)
    assert _nice(plain.submit(0.0, threading.get_native_id).result(timeout=5)) == _nice(here)


def test_threads_a_model_starts_while_loading_are_lowered_too(monkeypatch):
    """CTranslate2 decodes on threads it starts with the model; the shared Whisper's are lowered."""
    monkeypatch.setenv("VOICEBOT_INFERENCE_NICE", "5")
    release, ids = threading.Event(), []

    def load():  # like a model constructor: starts a worker thread and returns
        worker = threading.Thread(target=lambda: (ids.append(threading.get_native_id()), release.wait()))
        worker.start()
        while not ids:
            time.sleep(0.001)
        return worker

    worker = thread_priority.load_lowered(load)
    here = threading.get_native_id()
    try:
        assert _nice(ids[0]) == min(19, _nice(here) + 5)
        assert _nice(here) == _nice(threading.main_thread().native_id)  # the caller is untouched
    finally:
        release.set()
        worker.join()


def test_turns_that_end_together_are_decoded_at_once(monkeypatch):
    """One recognition thread per core, each with its own replica of the shared Whisper: with one,
    a debtor who stopped talking just after another waited a whole decode (the 40-call tail)."""
    from voicebot.services import deadline_executor
    from voicebot.services.whisper.stt import LocalWhisperSTTService

    monkeypatch.delenv("VOICEBOT_ASR_THREADS", raising=False)
    monkeypatch.setattr(deadline_executor, "_shared", {})  # a fresh process's executors
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    stt = LocalWhisperSTTService()
    assert deadline_executor.inference_executor("asr").workers == 2
    assert stt._shared.model.model.num_workers == 2

    monkeypatch.setattr(deadline_executor, "_shared", {})
    monkeypatch.setenv("VOICEBOT_ASR_THREADS", "1")  # the switch to measure against
    assert LocalWhisperSTTService()._shared.model.model.num_workers == 1

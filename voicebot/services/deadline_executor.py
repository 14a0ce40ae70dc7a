"""Model inference for every call of a process, earliest deadline first.

Speech synthesis and recognition run in threads (onnxruntime and CTranslate2 release the GIL).
With asyncio's default executor they ran first come, first served on up to cores + 4 threads: a
call whose debtor just stopped talking waited behind other calls' third and fourth sentences,
which were not needed for seconds yet, and six inferences shared two cores at once, each taking
three times as long. The profile under load showed exactly that: the latency was queueing.

Here each inference says when its result is needed (`deadline`, `time.monotonic()` seconds):

- the transcript at the end of a turn, and a reply's first piece of speech: now;
- a reply's later pieces: when the audio queued before them will have played;
- a speculative decode (`voicebot.audio.vad.pause`): when the VAD's stop will come.

Recognition and synthesis each have their own threads (`inference_executor`), which take the
most urgent item each time they are free. Work is never preempted or dropped, only ordered.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from voicebot import config
from voicebot.services import thread_priority

T = TypeVar("T")


class DeadlineExecutor:
    """A thread pool whose queue is ordered by deadline (ties: first submitted first)."""

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError(f"an executor needs at least one worker thread (got {workers})")
        self.workers = workers
        self._heap: list[tuple[float, int, Future, Callable[..., Any], tuple]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._threads = [threading.Thread(target=self._work, name=f"inference-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, deadline: float, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._ready:
            heapq.heappush(self._heap, (deadline, next(self._order), future, fn, args))
            self._ready.notify()
        return future

    async def run(self, deadline: float, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on a worker thread, awaited from the event loop."""
        return await asyncio.wrap_future(self.submit(deadline, fn, *args))

    def pending(self) -> int:
        with self._ready:
            return len(self._heap)

    def _work(self) -> None:
        thread_priority.lower()  # the event loop's frames first (see thread_priority)
        while True:
            with self._ready:
                while not self._heap:
                    self._ready.wait()
                _, _, future, fn, args = heapq.heappop(self._heap)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the awaiting call, never kills the thread
                future.set_exception(exc)


_shared: dict[str, DeadlineExecutor] = {}
_lock = threading.Lock()
_KINDS = ("asr", "tts")


def _default_threads() -> int:
    """One per core, for Whisper and Piper alike. Whisper's shared model gets one replica per
    thread (`num_workers`), so two debtors who stop talking together are both decoded at once;
    with one thread the second waited a whole decode, and at 40 calls on 2 cores that queue was
    the tail (end of turn to transcript p95 359 ms, processing p95 470 ms; with two: 146 and
    185 ms). A reply's first piece of speech is as urgent as a transcript."""
    return os.cpu_count() or 2


def inference_executor(kind: str) -> DeadlineExecutor:
    """The process-wide executor all calls share for one kind of inference ("asr" or "tts");
    `VOICEBOT_ASR_THREADS` / `VOICEBOT_TTS_THREADS` override the thread counts."""
    if kind not in _KINDS:
        raise KeyError(kind)
    with _lock:
        if kind not in _shared:
            settings = config.current()
            workers = settings.asr_threads if kind == "asr" else settings.tts_threads
            _shared[kind] = DeadlineExecutor(workers or _default_threads())
        return _shared[kind]


def now() -> float:
    """The executor's clock: deadlines are `time.monotonic()` seconds."""
    return time.monotonic()

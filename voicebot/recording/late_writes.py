"""Call records that the disk refused when their call ended, written once it takes them again.

A call that ends while the disk is full cannot wait for the disk: its summary and the last
lines of its JSONL are kept here, and one daemon thread tries them again every `every_s`, oldest
first, until they are written (then they are dropped from memory) or `keep` newer ones push
them out (logged: the records database, which retries on its own, still has the call).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from loguru import logger

Attempt = Callable[[], bool]  # True once everything it holds is on disk


class LateWrites:
    def __init__(self, every_s: float = 5.0, keep: int = 1000):
        self.every_s, self.keep = every_s, keep
        self._waiting: OrderedDict[str, Attempt] = OrderedDict()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, name: str, attempt: Attempt) -> None:
        with self._lock:
            self._waiting[name] = attempt
            while len(self._waiting) > self.keep:
                dropped, _ = self._waiting.popitem(last=False)
                logger.error(f"call record {dropped}: still unwritten and dropped from memory "
                             f"(more than {self.keep} waiting); the records database has the call")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="late-call-records", daemon=True)
                self._thread.start()

    def pending(self) -> list[str]:
        with self._lock:
            return list(self._waiting)

    def retry_now(self) -> None:
        """Try every waiting record at once (a test, or an operator who freed the disk)."""
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.every_s)
            self._wake.clear()
            with self._lock:
                waiting = list(self._waiting.items())
            for name, attempt in waiting:
                try:
                    done = attempt()
                except Exception:  # noqa: BLE001 - a bug in one record must not stop the others
                    logger.exception(f"call record {name}: late write failed")
                    done = False
                if done:
                    with self._lock:
                        self._waiting.pop(name, None)
                    logger.warning(f"call record {name}: written after the disk had room again")


late_writes = LateWrites()

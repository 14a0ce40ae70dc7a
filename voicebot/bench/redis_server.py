"""A private redis-server that a test or a benchmark can kill (SIGKILL), freeze (SIGSTOP) and
start again on the same port: the one way both put Redis faults on the engine.

By default it keeps its data in an append-only file fsync'd on every write, as a production
Redis with persistence would, so what a worker wrote before the crash is there after the
restart, and what it failed to write is not (`persistent=False`: a cache-only Redis, empty
after a restart).  The tests' shared `redis_url` server cannot be killed without breaking every
other test, hence this one per test.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from voicebot.bench.server import free_port


class RedisProcess:
    def __init__(self, folder: Path, persistent: bool = True):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run ./setup.sh (it installs it with apt)")
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else []

    def start(self) -> None:
        """Start (or restart) the server and wait until it answers, its data loaded."""
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             *self.persistence, "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:  # not listening yet, or still loading its data
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.02)
            finally:
                client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last save; clients' next commands are refused."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@contextmanager
def frozen(server: RedisProcess, watchdog_s: float = 6.0) -> Iterator[None]:
    """Redis stopped (SIGSTOP) for the block: the kernel still accepts connections and takes
    commands, and nothing ever answers, the worst case for a client.  Thawed (SIGCONT) at the
    block's end, or by a watchdog after `watchdog_s`, so a client without timeouts fails the
    test's assertions instead of hanging the run."""
    assert server.proc is not None
    server.proc.send_signal(signal.SIGSTOP)
    watchdog = threading.Timer(watchdog_s, server.proc.send_signal, (signal.SIGCONT,))
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()
        server.proc.send_signal(signal.SIGCONT)

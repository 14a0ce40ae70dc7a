"""The server under test: `voicebot serve` as child processes on free loopback ports.

Why a subprocess and not a thread: the server's CPU and memory must be measurable apart from
the carriers', and it must run exactly as a deployment would (its own interpreter, its own
event loop, warm-up before the first call).  With several workers, each is a separate process
on its own port with its own models, and carriers are spread over them as a load balancer
would; calls share nothing, so no state needs to cross processes.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

READY_TIMEOUT_S = 180.0  # warm-up loads and exercises Whisper and Piper first
SAMPLE_EVERY_S = 0.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as reply:
                return reply.status == 200
        except (urllib.error.URLError, OSError):
            return False


@dataclass
class BenchServer:
    """`workers` server processes sharing one accounts file and one records folder."""

    accounts: Path
    records: Path
    workers: int = 1
    stats_log: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    prompt_cache: Path | None = None  # rendered script text on disk, shared by workers and levels
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    processes: list[ServerProcess] = field(default_factory=list)

    def start(self) -> None:
        self.records.mkdir(parents=True, exist_ok=True)
        # The bench calls a few sample accounts dozens of times: no real debtors, so the contact
        # history's attempt caps (7 calls in 7 days...) would refuse most of its calls.
        env = {**os.environ, "LOGURU_LEVEL": "WARNING", "VOICEBOT_CONTACT_HISTORY": "false", **self.extra_env}
        if self.stats_log is not None:
            env["VOICEBOT_STATS_LOG"] = str(self.stats_log)
        for index in range(self.workers):
            port = free_port()
            log_path = self.records.parent / f"server-{index}.log"
            # One records folder per worker: each keeps its own records database next to it.
            records = self.records / f"worker-{index}" if self.workers > 1 else self.records
            command = [sys.executable, "-c", "from voicebot.cli import main; main()", "serve",
                       "--accounts", str(self.accounts), "--records", str(records),
                       "--port", str(port), "--token", self.token, "--log-level", "WARNING",
                       "--prompt-cache", str(self.prompt_cache or "")]
            with log_path.open("w") as log:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            self.processes.append(ServerProcess(port, process, log_path))
        deadline = time.monotonic() + READY_TIMEOUT_S
        for server in self.processes:
            while not server.healthy():
                if server.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {server.process.returncode}; "
                                       f"see {server.log_path}:\n{server.log_path.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the server was not ready within {READY_TIMEOUT_S:.0f} s")
                time.sleep(0.2)

    def url_for(self, call_index: int) -> str:
        """Round-robin over the workers: call i goes to worker i mod W."""
        server = self.processes[call_index % len(self.processes)]
        return f"{server.ws_base}/media/twilio?token={self.token}"

    def stop(self) -> None:
        for server in self.processes:
            if server.process.poll() is None:
                server.process.terminate()
        for server in self.processes:
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()

    def __enter__(self) -> BenchServer:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


@dataclass
class ResourceSampler:
    """CPU (100 = one core, summed over the worker processes) and RSS, sampled in a thread."""

    pids: list[int]
    cpu_percent: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0  # user + system CPU the workers used between start() and stop()
    _cpu_at_start: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _procs: list[psutil.Process] = field(default_factory=list)

    def start(self) -> None:
        procs = [psutil.Process(pid) for pid in self.pids]
        self._procs = procs
        self._cpu_at_start = self._cpu_total()
        for proc in procs:
            proc.cpu_percent(None)  # the first reading only sets the baseline

        def sample() -> None:
            while not self._stop.wait(SAMPLE_EVERY_S):
                try:
                    self.cpu_percent.append(sum(p.cpu_percent(None) for p in procs))
                    self.rss_mb.append(sum(p.memory_info().rss for p in procs) / 2**20)
                except psutil.Error:
                    return  # a worker died; the run reports its failed calls

        self._thread = threading.Thread(target=sample, name="bench-sampler", daemon=True)
        self._thread.start()

    def _cpu_total(self) -> float:
        total = 0.0
        for proc in self._procs:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.cpu_seconds = self._cpu_total() - self._cpu_at_start

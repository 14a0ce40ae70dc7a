"""Shared fixtures: the shipped locales loaded once per test session (real scripts, real NLU)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dialogue.accounts import Account, load_accounts
from dialogue.engine import DialogueEngine, engine_for

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ACCOUNTS = REPO / "scripts" / "accounts" / "sample_accounts.json"
CALL_DATE = date(2026, 11, 23)  # a Monday; sample accounts are 2, 4 and 7 days overdue on it


@pytest.fixture(scope="session")
def engines() -> dict[str, DialogueEngine]:
    return {locale: engine_for(locale) for locale in ("en", "zh")}


@pytest.fixture(scope="session")
def accounts() -> dict[str, Account]:
    return {a.id: a for a in load_accounts(SAMPLE_ACCOUNTS)}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis: REDIS_URL if given, else a private redis-server started for this run."""
    import os
    import shutil
    import socket
    import subprocess
    import time

    import redis

    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run ./setup.sh (it installs it with apt)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("private redis-server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _own_prefix(redis_url):
    import uuid

    from telephony.campaign import connect

    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    client = connect(redis_url)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def redis_prefix(redis_url):
    """A Redis key prefix of this test's own; its keys are removed afterwards."""
    yield from _own_prefix(redis_url)


@pytest.fixture(scope="module")
def module_redis_prefix(redis_url):
    """The same for a whole module (a server fixture that outlives one test)."""
    yield from _own_prefix(redis_url)


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of this test's own (voicebot/bench/redis_server.py), which it may stop, kill or
    freeze; thawed and stopped afterwards."""
    import signal

    from voicebot.bench.redis_server import RedisProcess

    server = RedisProcess(tmp_path / "redis")
    server.folder.mkdir()
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.send_signal(signal.SIGCONT)
    server.stop()

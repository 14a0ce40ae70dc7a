"""The real media-stream server for tests: uvicorn on a free 127.0.0.1 port, in a thread."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(app: FastAPI, port: int, start_timeout_s: float = 120) -> Iterator[None]:
    """Run `app` until the block ends; start-up warms the models, hence the long timeout."""
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                       ws_ping_interval=None))
    thread = threading.Thread(target=uv.run, name="media-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    try:
        yield
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


def summaries(records: Path) -> list[dict]:
    out = []
    for path in records.glob("*.json"):
        try:
            out.append(json.loads(path.read_text()))
        except json.JSONDecodeError:
            pass  # being written right now
    return out


def record_of(records: Path, carrier_call_id: str) -> dict:
    """The call's summary; the server writes it just after the socket closes, so wait for it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for summary in summaries(records):
            if summary.get("carrier_call_id") == carrier_call_id:
                return summary
        time.sleep(0.2)
    raise AssertionError(f"no call record for {carrier_call_id}")

"""The real media-stream server for tests: uvicorn on a free 127.0.0.1 port, in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

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


def selected_tests(request) -> set[str]:
    """Names of the tests of the requesting module that this run will execute (after -k etc.)."""
    return {getattr(item, "originalname", item.name) for item in request.session.items
            if getattr(item, "module", None) is request.module}


def calls_at_once(request, scenarios: dict[str, Callable[[], Awaitable[Any]]]) -> dict[str, Any]:
    """Run the scenarios (keyed by the test that asserts on each) of the selected tests at the
    same time, on one event loop, as a server's calls come in; wait for all of them.

    The calls run in real time (45-60 s each), so one after the other a module took the sum of
    them; at once, it takes the longest.  Each value is the scenario's result, or the exception
    it raised, which `outcome` raises again in its own test."""
    wanted = [name for name in scenarios if name in selected_tests(request)]

    async def everything():
        return await asyncio.gather(*(scenarios[name]() for name in wanted), return_exceptions=True)

    return dict(zip(wanted, asyncio.run(everything()))) if wanted else {}


def outcome(results: dict[str, Any], test_name: str) -> Any:
    result = results[test_name]
    if isinstance(result, BaseException):
        raise result
    return result

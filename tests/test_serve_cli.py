"""`voicebot serve` as an operator first runs it: no --token, so it makes one and says so.  It
broke once: a local variable named `secrets` hid the module (AttributeError before the server
started)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx

from conftest import SAMPLE_ACCOUNTS
from media_server import free_port


def test_serve_without_a_token_makes_one_and_answers(tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    command = [sys.executable, "-c", "from voicebot.cli import main; main()", "serve",
               "--accounts", str(SAMPLE_ACCOUNTS), "--records", str(tmp_path / "calls"),
               "--port", str(port), "--no-warm-up", "--prompt-cache", ""]
    env = {**os.environ, "VOICEBOT_OPT_OUT_PREFIX": "lender-a"}
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert re.search(r"accepts streams with token \S{20,}", log.read_text())
    finally:
        process.terminate()
        process.wait(30)


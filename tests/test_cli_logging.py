"""The log every `voicebot` command writes: INFO by default, -v DEBUG, -q warnings, JSON lines
on request. Run in a child process, so the test process's own log sinks are left alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dialogue.paths import REPO_ROOT
from voicebot.cli.logging_setup import log_level

VOICEBOT = REPO_ROOT / ".venv" / "bin" / "voicebot"
EMIT = ("import sys; from loguru import logger; from voicebot.cli.logging_setup import configure_logging;"
        "configure_logging(sys.argv[1] == 'v', sys.argv[2] == 'q', sys.argv[3]);"
        "logger.debug('d-line'); logger.info('i-line'); logger.warning('w-line');"
        "ctx = logger.contextualize(call_id='c0ffee12'); ctx.__enter__(); logger.warning('in-call')")


def _emit(verbose: bool, quiet: bool, fmt: str = "text", env: dict | None = None) -> str:
    done = subprocess.run([sys.executable, "-c", EMIT, "v" if verbose else "-", "q" if quiet else "-", fmt],
                          capture_output=True, text=True, timeout=60, env=env, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize("verbose, quiet, seen", [
    (False, False, {"i-line", "w-line"}),
    (True, False, {"d-line", "i-line", "w-line"}),
    (False, True, {"w-line"}),
    (True, True, {"d-line", "i-line", "w-line"}),  # -v wins
])
def test_the_level_follows_the_flags(verbose, quiet, seen):
    out = _emit(verbose, quiet, env={"PATH": "/usr/bin:/bin"})
    assert {line for line in ("d-line", "i-line", "w-line") if line in out} == seen


def test_json_lines_parse_and_carry_the_level():
    lines = [json.loads(line) for line in _emit(False, False, "json", env={"PATH": "/usr/bin:/bin"}).splitlines()]
    assert [(r["record"]["level"]["name"], r["record"]["message"], r["record"]["extra"]["call_id"])
            for r in lines] == [("INFO", "i-line", ""), ("WARNING", "w-line", ""), ("WARNING", "in-call", "c0ffee12")]


def test_a_calls_lines_carry_its_id_in_text_too():
    out = _emit(False, False, env={"PATH": "/usr/bin:/bin"}).splitlines()
    (inside,) = [line for line in out if "in-call" in line]
    assert "| c0ffee12" in inside and all("c0ffee12" not in line for line in out if "in-call" not in line)


def test_loguru_level_in_the_environment_is_the_default():
    assert log_level(False, False, {"LOGURU_LEVEL": "WARNING"}) == "WARNING"
    assert log_level(True, False, {"LOGURU_LEVEL": "WARNING"}) == "DEBUG"
    assert log_level(False, False, {}) == "INFO"


def test_the_cli_refuses_an_unknown_log_format():
    done = subprocess.run([str(VOICEBOT), "--log-format", "xml", "scripts", "validate"],
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 2 and "xml" in done.stderr

"""The log of every `voicebot` command, set once in the CLI's callback.

Why here: pipecat logs each processor's start and every frame link at DEBUG, which buried a
simulated call's twelve lines of transcript under a hundred lines of plumbing; a server needs
machine-readable lines for its log collector. So: INFO by default (`LOGURU_LEVEL` when set, as
the benchmark's servers set it), `-v` for DEBUG, `-q` for warnings only, and `--log-format json`
for one JSON object per line (loguru's `serialize`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from enum import Enum

from loguru import logger

from voicebot import config


class LogFormat(str, Enum):
    text = "text"
    json = "json"


def log_level(verbose: bool, quiet: bool, env: Mapping[str, str] | None = None) -> str:
    """-v wins over -q; without either, `LOGURU_LEVEL` (of `env`, default the settings'), else INFO."""
    if verbose:
        return "DEBUG"
    if quiet:
        return "WARNING"
    return (env.get("LOGURU_LEVEL") if env is not None else config.current().loguru_level) or "INFO"


#: loguru's default text format, with the call id (empty outside a call) after the level.
TEXT_FORMAT = ("<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
               "{extra[call_id]: <12} | <cyan>{name}</cyan>:<cyan>{function}</cyan>:<cyan>{line}</cyan> - "
               "<level>{message}</level>")


def configure_logging(verbose: bool = False, quiet: bool = False,
                      log_format: LogFormat = LogFormat.text) -> str:
    """Replace loguru's default sink (stderr, DEBUG) with the chosen level and format. A call's
    lines carry its id (`voicebot/server/call.py` sets it for the call's whole context); JSON
    lines have it under record.extra."""
    level = log_level(verbose, quiet)
    logger.remove()
    logger.configure(extra={"call_id": ""})
    if LogFormat(log_format) is LogFormat.json:
        logger.add(sys.stderr, level=level, serialize=True)
    else:
        logger.add(sys.stderr, level=level, format=TEXT_FORMAT)
    return level


def quiet_logs() -> None:
    """Warnings only, unless LOGURU_LEVEL says otherwise: for tools whose progress is their own
    output (`nlu eval --audio`, the benchmarks), since pipecat logs every processor's start."""
    logger.remove()
    logger.add(sys.stderr, level=config.current().loguru_level or "WARNING")

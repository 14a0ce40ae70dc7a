"""Inference threads give way to the event loop.

A server process runs every call's frame handling (WebSocket messages, VAD, pacing the bot's
audio out) on one event-loop thread, and Piper and Whisper on inference threads beside it. On 2
cores with 40 calls, three inference threads and the event loop were often runnable at once: the
scheduler gave each a half core, the event loop fell behind, and the bot's audio reached the
carrier late while a synthesis that was not due for seconds ran at full share. The event loop's
work is small and always due now; inference is large and ordered by deadline
(`deadline_executor`). So inference threads run at a lower priority (a higher nice value, which
needs no privilege): they still take every cycle the event loop leaves idle, and the loop no
longer waits behind them.

Linux only (`setpriority` on a thread id changes that one thread); elsewhere this is a no-op.
`VOICEBOT_INFERENCE_NICE` sets the step (default 10; 0 turns it off).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

from loguru import logger

from voicebot import config

T = TypeVar("T")

DEFAULT_NICE = 10


def inference_nice() -> int:
    """How many nice steps inference threads run below the event loop."""
    return config.current().inference_nice


def lower(tid: int | None = None, step: int | None = None) -> bool:
    """Lower one thread (default: the calling one) by `step` nice steps (default
    `inference_nice()`; the console's password checks go further down).

    Returns whether it was lowered; failure is logged, never raised, since a thread at normal
    priority still works."""
    step = inference_nice() if step is None else step
    if step <= 0 or not hasattr(os, "setpriority"):
        return False
    tid = threading.get_native_id() if tid is None else tid
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + step))
    except OSError as exc:  # e.g. the thread ended meanwhile
        logger.debug(f"could not lower thread {tid}: {exc}")
        return False
    return True


def _thread_ids() -> set[int]:
    try:
        return {int(tid) for tid in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def load_lowered(load: Callable[[], T]) -> T:
    """`load()`, with the threads it starts lowered: CTranslate2 decodes on worker threads of
    its own, created with the model, not on the thread that asks for a transcript."""
    before = _thread_ids()
    result = load()
    for tid in _thread_ids() - before:
        lower(tid)
    return result

"""Callee lines that do not wait for the bot: an answering machine, and a person who answers.

    <machine>                      the default greeting, then a 1 kHz beep; records the bot after it
    <machine: Hi, this is Ann...>  that greeting, then the beep
    <machine-silent: text>         a greeting that ends in silence (no beep)
    @0.4 hello?                    a person picking up: says "hello?" 0.4 s after answer

On an outbound call the callee speaks first; with answering-machine detection on, the bot
says nothing until it knows who answered, so scripts for such calls start with one of these.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import numpy as np

from voicebot.audio.amd.tones import beep
from voicebot.transports.simulated.debtor import DebtorLine

DEFAULT_GREETING = ("Hi, you have reached my voicemail. I can't take your call right now. "
                    "Please leave a message after the tone.")
MACHINE = re.compile(r"<machine(?P<silent>-silent)?(?::\s*(?P<text>[^>]*))?>")
ANSWER = re.compile(r"@(?P<at>\d+(?:\.\d+)?)\s+(?P<text>.+)")
PICKUP_S = 0.3      # the machine starts its greeting this long after answer
BEEP_GAP_S = 0.3
BEEP_HZ, BEEP_S = 1000.0, 0.5

Render = Callable[[str], Awaitable[np.ndarray]]


def is_answer_line(text: str) -> bool:
    return bool(MACHINE.fullmatch(text) or ANSWER.fullmatch(text))


async def answer_line(text: str, render: Render, sample_rate: int) -> DebtorLine:
    """The DebtorLine for a `<machine...>` or `@t text` line (see is_answer_line)."""
    machine = MACHINE.fullmatch(text)
    if machine:
        greeting = await render(machine.group("text") or DEFAULT_GREETING)
        parts = [greeting, np.zeros(int(BEEP_GAP_S * sample_rate), dtype=np.int16)]
        if not machine.group("silent"):
            parts.append(beep(BEEP_HZ, BEEP_S, sample_rate))
        return DebtorLine(text, np.concatenate(parts), sample_rate=sample_rate, at_s=PICKUP_S, machine=True)
    answer = ANSWER.fullmatch(text)
    if answer is None:
        raise ValueError(f"not an answering line: {text!r}")
    audio = await render(answer.group("text"))
    return DebtorLine(answer.group("text"), audio, sample_rate=sample_rate, at_s=float(answer.group("at")))

"""A complete simulated collection call: a scripted debtor, synthesised with a voice other than
the bot's, talks to the real pipeline (VAD, ASR, dialogue, TTS) over a simulated carrier.

Used by `voicebot simulate` (README's main job), the end-to-end tests and the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pipecat.transports.base_transport import TransportParams

from dialogue.accounts import Account
from dialogue.engine import engine_for
from dialogue.session import TurnRecord
from voicebot.pipeline.amd_processor import amd_setup
from voicebot.pipeline.builder import build_call, run_call
from voicebot.pipeline.parts import call_parts, debtor_voice_for, render_speech
from voicebot.recording.call_record import percentile
from voicebot.transports.simulated import (
    DebtorLine, ScriptedDebtor, SimulatedCarrierTransport, last_voiced_s,
)
from voicebot.transports.simulated.machine import answer_line, is_answer_line

SILENCE_LINE = "<silence>"
HANGUP_LINE = "<hangup>"
DEBTOR_TAIL_S = 0.05  # keep a little of the line's trailing silence, as a speaker would


@dataclass
class SimulationResult:
    summary: dict[str, Any]
    line_latencies_ms: list[float]
    processing_ms: list[float]
    debtor_voice: str
    records: Path
    debtor_timings: list = field(default_factory=list)
    machine_recording: Any = None  # int16 audio an answering-machine callee recorded of the bot

    @property
    def latency(self) -> dict[str, float | None]:
        return {"p50": percentile(self.line_latencies_ms, 50), "p95": percentile(self.line_latencies_ms, 95)}

    @property
    def processing(self) -> dict[str, float | None]:
        return {"p50": percentile(self.processing_ms, 50), "p95": percentile(self.processing_ms, 95)}


def parse_debtor(spec: str) -> list[tuple[str, float | None]]:
    """"line|line|..." with `<silence>`, `<hangup>`, `#0` (a keypad key) and `>1.5 text` (barge
    in 1.5 s into the bot's speech) allowed."""
    lines = []
    for raw in spec.split("|"):
        text = raw.strip()
        if not text:
            continue
        barge = None
        if text.startswith(">"):
            head, _, rest = text[1:].partition(" ")
            barge, text = float(head), rest.strip()
        lines.append((text, barge))
    return lines


async def make_lines(spec: list[tuple[str, float | None]], voice: str, sample_rate: int) -> list[DebtorLine]:
    """Render every line before the call starts, so synthesis never competes with the call."""
    out = []
    for text, barge in spec:
        if is_answer_line(text):  # <machine...> or "@0.4 hello?": the callee speaks first
            out.append(await answer_line(text, lambda t: _line_audio(voice, t, sample_rate), sample_rate))
        elif text == SILENCE_LINE:
            out.append(DebtorLine(text, None, barge, sample_rate=sample_rate))
        elif text == HANGUP_LINE:
            out.append(DebtorLine(text, None, barge, hangup=True, sample_rate=sample_rate))
        elif len(text) == 2 and text[0] == "#" and text[1] in "0123456789*#":
            out.append(DebtorLine(text, None, barge, dtmf=text[1], sample_rate=sample_rate))
        else:
            out.append(DebtorLine(text, await _line_audio(voice, text, sample_rate), barge, sample_rate=sample_rate))
    return out


async def _line_audio(voice: str, text: str, sample_rate: int):
    audio = await render_speech(voice, text, sample_rate)
    end = int((last_voiced_s(audio, sample_rate) + DEBTOR_TAIL_S) * sample_rate)
    return audio[:end]


@dataclass
class Simulation:
    account: Account
    lines: list[tuple[str, float | None]]
    stage: str | None = None
    attempt: int = 1
    today: date | None = None
    speed: float = 1.0
    sample_rate: int = 8000
    records_dir: Path = Path("var/calls")
    on_turn: Callable[[TurnRecord], None] | None = None
    on_timing: Callable[[int, dict[str, float]], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    on_call: Callable[[Any], Any] | None = None  # gets the BuiltCall, e.g. records.attach_call
    amd: bool = False  # answering-machine detection: the bot waits to know who answered
    answered_by: str | None = None  # a carrier's verdict (Twilio AnsweredBy), with amd

    async def run(self) -> SimulationResult:
        engine = engine_for(self.account.locale)
        session = engine.start_call(self.account, stage=self.stage, attempt=self.attempt, today=self.today)
        debtor_voice = debtor_voice_for(engine.scripts.locale, session.voice)
        parts = call_parts(session, self.sample_rate)  # fails fast if the locale has no recogniser
        lines = await make_lines(self.lines, debtor_voice, self.sample_rate)
        debtor = ScriptedDebtor(lines, self.sample_rate)
        params = TransportParams(audio_in_enabled=True, audio_out_enabled=True,
                                 audio_in_sample_rate=self.sample_rate, audio_out_sample_rate=self.sample_rate)
        transport = SimulatedCarrierTransport(debtor, params, speed=self.speed)
        amd = amd_setup(session, self.answered_by) if self.amd or self.answered_by else None
        call = build_call(transport, session, parts, self.records_dir, amd=amd)
        if self.on_turn:
            session.listeners.append(self.on_turn)
        if self.on_timing:
            call.dialogue.timing_listeners.append(self.on_timing)
        if self.on_call:
            self.on_call(call)
        latencies = debtor.timings
        summary = await run_call(call, {"debtor_voice": debtor_voice, "speed": self.speed, **self.extra})
        measured = [t.latency_ms for t in latencies if t.latency_ms is not None]
        processing = [t["processing_ms"] for t in call.recorder.timings.values() if "processing_ms" in t]
        summary["turn_latency_ms"] = {"p50": percentile(measured, 50), "p95": percentile(measured, 95)}
        return SimulationResult(summary, measured, processing, debtor_voice, self.records_dir,
                                list(latencies), debtor.recorded_audio)

"""N simulated carriers calling the server at once, each playing a scripted debtor in real time.

Each carrier is the local provider's `LocalCarrierCall` over a real WebSocket speaking Twilio
Media Streams (`TwilioWire`): 20 ms mu-law frames paced on the call's clock, marks echoed once
played, the bot's audio "played" on a playback clock.  The debtors' lines are synthesised once,
before the clock starts, and shared read-only by every call (a `ScriptedDebtor` per call keeps
its own position), so synthesis never competes with the server during the measurement.

Concurrency is held for the run's duration: N slots start staggered, and each slot dials its
next call as soon as its previous one ends, until the duration is up; calls in progress then
finish (their outcome is part of the result).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from voicebot.bench.metrics import CallRun, WireGaps
from voicebot.bench.scenarios import SCENARIOS, scenario_for
from voicebot.providers.local.carrier import LocalCallResult, LocalCarrierCall
from voicebot.providers.local.wire import TwilioWire
from voicebot.transports.simulated.debtor import DebtorLine, ScriptedDebtor

SAMPLE_RATE = 8000          # Twilio Media Streams: mu-law at 8 kHz
CALL_TIMEOUT_S = 300.0      # a call stuck longer than this is cancelled and counted as failed
LAG_EVERY_S = 0.1


@dataclass
class LoopLag:
    """How late this process's event loop wakes up: if the carriers' own loop is late, frames
    are sent late and received late, and the figures would blame the server for it."""

    lags_ms: list[float] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            due = time.monotonic() + LAG_EVERY_S
            await asyncio.sleep(LAG_EVERY_S)
            self.lags_ms.append(max(0.0, time.monotonic() - due) * 1000)


async def prepare_lines() -> dict[str, list[DebtorLine]]:
    """Every scenario's lines rendered with its debtor's voice (before any call starts)."""
    from voicebot.simulate import make_lines, parse_debtor  # heavy: models

    return {s.name: await make_lines(parse_debtor(s.debtor), s.debtor_voice, SAMPLE_RATE)
            for s in SCENARIOS}


@dataclass
class CarrierPool:
    """Runs one level: `calls` concurrent slots for `duration_s`, started `stagger_s` apart."""

    url_for: Callable[[int], str]       # call index -> ws:// URL (with token) of a server worker
    lines: dict[str, list[DebtorLine]]
    calls: int
    duration_s: float
    stagger_s: float
    redial_pause_s: float = 0.0  # between a slot's calls (a fault that refuses calls at once
    #                              would otherwise have the slot redial in a tight loop)
    runs: list[CallRun] = field(default_factory=list)
    active_samples: list[int] = field(default_factory=list)
    lag: LoopLag = field(default_factory=LoopLag)
    _active: int = 0
    _t0: float = 0.0

    def _clock(self) -> float:
        return time.monotonic() - self._t0

    async def run(self) -> float:
        """Run the level; returns its wall time in seconds."""
        self._t0 = time.monotonic()
        lag = asyncio.create_task(self.lag.run())
        sampler = asyncio.create_task(self._sample_active())
        try:
            await asyncio.gather(*(self._slot(i) for i in range(self.calls)))
        finally:
            for task in (lag, sampler):
                task.cancel()
            await asyncio.gather(lag, sampler, return_exceptions=True)
        return self._clock()

    async def _slot(self, slot: int) -> None:
        await asyncio.sleep(slot * self.stagger_s)
        round_ = 0
        while round_ == 0 or self._clock() < self.duration_s:
            if round_ and self.redial_pause_s:
                await asyncio.sleep(self.redial_pause_s)
            await self._one_call(slot + round_ * self.calls)
            round_ += 1

    async def _one_call(self, index: int) -> None:
        scenario = scenario_for(index)
        wire = TwilioWire({"account": scenario.account, "attempt": str(scenario.attempt)})
        result = LocalCallResult(wire.call_sid, scenario.account, "twilio")
        carrier = LocalCarrierCall(self.url_for(index), wire,
                                   ScriptedDebtor(self.lines[scenario.name], SAMPLE_RATE), result)
        carrier.connect_options["compression"] = None  # a carrier's media stream is not deflated
        gaps = WireGaps()
        carrier.audio_listeners.append(gaps.on_audio)
        run = CallRun(index, scenario, result, gaps, self._clock())
        self.runs.append(run)
        self._active += 1
        try:
            await asyncio.wait_for(carrier.run(), CALL_TIMEOUT_S)
        except TimeoutError:
            result.status, result.error = "failed", f"no end within {CALL_TIMEOUT_S:.0f} s"
            result.debtor_timings = list(carrier.debtor.timings)
        finally:
            self._active -= 1
            run.ended_s = self._clock()

    async def _sample_active(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.active_samples.append(self._active)

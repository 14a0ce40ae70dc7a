"""A carrier played by the machine: 20 ms frames in, paced bot audio out, on one clock.

Input: every 20 ms of carrier time the scripted debtor supplies a chunk (speech or silence).
Output: bot audio is "played" at real-time pace and reported to the debtor, who uses it to
decide when to talk and to measure latency.  `speed` > 1 runs the whole call faster than real
time (both directions scale together).
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    InputAudioRawFrame,
    InputDTMFFrame,
    OutputAudioRawFrame,
    StartFrame,
)
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from voicebot.transports.simulated.debtor import ScriptedDebtor

FRAME_S = 0.02
OUTPUT_LEAD_S = 0.04  # how far ahead of playback the carrier accepts audio (its jitter buffer)


class CarrierClock:
    def __init__(self, speed: float):
        self.speed = speed
        self._t0 = time.monotonic()

    def reset(self) -> None:
        """Time zero is when the call connects (the pipeline starts), not when it was built."""
        self._t0 = time.monotonic()

    def now(self) -> float:
        """Carrier audio time in seconds since the call connected."""
        return (time.monotonic() - self._t0) * self.speed

    async def sleep_until(self, audio_s: float) -> None:
        delay = (audio_s - self.now()) / self.speed
        if delay > 0:
            await asyncio.sleep(delay)


class SimulatedCarrierInput(BaseInputTransport):
    def __init__(self, debtor: ScriptedDebtor, clock: CarrierClock, params: TransportParams):
        super().__init__(params)
        self._debtor, self._clock = debtor, clock
        self._feed_task: asyncio.Task | None = None

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)
        if self._feed_task is None:
            self._clock.reset()
            self._feed_task = self.create_task(self._feed())

    async def stop(self, frame: EndFrame):
        await self._stop_feed()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame):
        await self._stop_feed()
        await super().cancel(frame)

    async def _stop_feed(self) -> None:
        if self._feed_task is not None:
            await self.cancel_task(self._feed_task)
            self._feed_task = None

    async def _feed(self) -> None:
        rate = self.sample_rate
        samples = int(rate * FRAME_S)
        tick = 0
        while True:
            due = tick * FRAME_S
            await self._clock.sleep_until(due)
            audio = self._debtor.next_chunk(due, samples)
            if self._debtor.hung_up:
                # The worker ends the call (an EndFrame from its source, through every
                # processor). An EndFrame pushed from here would reach the sink but not end the
                # worker, which then idled until its idle timeout (120 s) cancelled the call.
                await self.push_frame(EndWorkerFrame(reason="debtor hung up"), FrameDirection.UPSTREAM)
                return
            await self.push_audio_frame(InputAudioRawFrame(audio=audio, sample_rate=rate, num_channels=1))
            while self._debtor.pending_dtmf:
                key = KeypadEntry(self._debtor.pending_dtmf.pop(0))
                await self.push_frame(InputDTMFFrame(button=key))
            tick += 1


class SimulatedCarrierOutput(BaseOutputTransport):
    def __init__(self, debtor: ScriptedDebtor, clock: CarrierClock, params: TransportParams):
        super().__init__(params)
        self._debtor, self._clock = debtor, clock
        self._cursor = 0.0  # carrier time up to which bot audio is already queued for playback

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        duration = len(frame.audio) / (2 * frame.sample_rate * frame.num_channels)
        start = max(self._clock.now(), self._cursor)
        self._cursor = start + duration
        if any(frame.audio):  # pipecat pads the end of a call with silence: not speech
            self._debtor.bot_audio(start, self._cursor)
        self._debtor.bot_pcm(np.frombuffer(frame.audio, dtype="<i2"), start)
        await self._clock.sleep_until(self._cursor - OUTPUT_LEAD_S)
        return True


class SimulatedCarrierTransport(BaseTransport):
    def __init__(self, debtor: ScriptedDebtor, params: TransportParams, speed: float = 1.0):
        super().__init__()
        self.clock = CarrierClock(speed)
        self.debtor = debtor
        self._params = params
        self._input: SimulatedCarrierInput | None = None
        self._output: SimulatedCarrierOutput | None = None

    def input(self) -> FrameProcessor:
        if self._input is None:
            self._input = SimulatedCarrierInput(self.debtor, self.clock, self._params)
        return self._input

    def output(self) -> FrameProcessor:
        if self._output is None:
            self._output = SimulatedCarrierOutput(self.debtor, self.clock, self._params)
        return self._output

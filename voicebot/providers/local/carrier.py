"""One call played by the local carrier: a scripted debtor on the far end of a real WebSocket.

What `voicebot.transports.simulated` does inside the pipeline, this does from outside, over the
server's public protocol and in real time: every 20 ms it sends the debtor's next frame
(speech or silence), it "plays" the bot's audio on a playback clock (so the debtor hears when
the bot stops, and ScriptedDebtor measures turn latency as a caller would: from the end of its
line to the first bot audio), drops queued audio on `clear`, echoes `mark`s once the audio
before them has played (as Twilio does), presses keys as `dtmf` and hangs up with `stop`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import websockets
from loguru import logger

from voicebot.providers.local.wire import FRAME_S, PcmWire, TwilioWire
from voicebot.transports.simulated.debtor import LineTiming, ScriptedDebtor

AUDIBLE = 32           # peak above which received bot audio counts as speech, not padding
AFTER_SCRIPT_S = 60.0  # the debtor has said everything: wait this long for the bot to end the call


@dataclass
class LocalCallResult:
    call_id: str
    account_id: str
    protocol: str
    status: str = "in-progress"         # completed | transferred | no-answer | busy | failed
    ended_by: str | None = None         # server | debtor | provider
    close_code: int | None = None
    close_reason: str | None = None
    bot_audio_s: float = 0.0            # bot audio received (and played)
    marks: list[str] = field(default_factory=list)  # marks the server sent (each echoed once played)
    clears: int = 0                     # barge-ins the server signalled
    debtor_timings: list[LineTiming] = field(default_factory=list)
    error: str | None = None
    recorded: np.ndarray | None = None  # what an answering-machine callee recorded of the bot

    @property
    def latencies_ms(self) -> list[float]:
        return [t.latency_ms for t in self.debtor_timings if t.latency_ms is not None]


class LocalCarrierCall:
    def __init__(self, url: str, wire: TwilioWire | PcmWire, debtor: ScriptedDebtor,
                 result: LocalCallResult, headers: dict[str, str] | None = None):
        self.url, self.wire, self.debtor, self.result = url, wire, debtor, result
        self.headers = headers or {}
        self._t0 = 0.0
        self._cursor = 0.0                    # playback clock: bot audio queued up to here
        self._marks: list[tuple[float, str]] = []
        self._end_status: str | None = None   # set by the provider: transfer / hang up
        # Called for each bot audio message with (arrival s, playback clock before it, its
        # length s), all on the call's clock: how a benchmark sees the line run dry (underruns).
        self.audio_listeners: list[Callable[[float, float, float], None]] = []
        self.connect_options: dict = {}       # extra websockets.connect arguments (e.g. compression)

    def end(self, status: str) -> None:
        """The carrier ends the call (a transfer or hang-up): stop the stream on the next tick.

        The status is set now: the server may close the socket before that tick comes."""
        self._end_status = status
        self.result.status, self.result.ended_by = status, "provider"

    def _now(self) -> float:
        return time.monotonic() - self._t0

    async def run(self) -> LocalCallResult:
        result = self.result
        try:
            async with self.connect() as ws:
                for message in self.wire.opening():
                    await ws.send(message)
                self._t0 = time.monotonic()
                sender = asyncio.create_task(self._send(ws))
                try:
                    await self._receive(ws)
                finally:
                    sender.cancel()
                    await asyncio.gather(sender, return_exceptions=True)
                result.close_code, result.close_reason = ws.close_code, ws.close_reason
        except (OSError, websockets.InvalidHandshake) as exc:
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        if result.status == "in-progress":
            result.status = "completed"
        result.ended_by = result.ended_by or "server"
        result.debtor_timings = list(self.debtor.timings)
        result.recorded = self.debtor.recorded_audio
        return result

    def connect(self):
        """The connection to the server (a test speaking another transport overrides this)."""
        return websockets.connect(self.url, additional_headers=self.headers, max_size=None,
                                  ping_interval=None, **self.connect_options)

    async def _send(self, ws) -> None:
        try:
            await self._send_frames(ws)
        except websockets.ConnectionClosed:
            pass  # the server ended the call; _receive records how
        except Exception as exc:  # a bug here must not leave the server talking to nobody
            logger.exception(f"call {self.result.call_id}: carrier failed: {exc}")
            self.result.error = f"{type(exc).__name__}: {exc}"
            await ws.close()

    async def _send_frames(self, ws) -> None:
        samples = int(self.wire.rate * FRAME_S)
        tick, script_done_at = 0, None
        while True:
            due = tick * FRAME_S
            await asyncio.sleep(max(0.0, self._t0 + due - time.monotonic()))
            await self._echo_marks(ws, self._now())
            chunk = self.debtor.next_chunk(due, samples)
            if self.debtor.hung_up or self._end_status:
                if not self._end_status:
                    self.result.status, self.result.ended_by = "completed", "debtor"
                stop = self.wire.stop()
                if stop is not None:  # some carriers just close the socket when the caller hangs up
                    await ws.send(stop)
                await ws.close()
                return
            await ws.send(self.wire.audio(chunk, int(due * 1000)))
            while self.debtor.pending_dtmf:
                await ws.send(self.wire.dtmf(self.debtor.pending_dtmf.pop(0)))
            if self.debtor.finished and script_done_at is None:
                script_done_at = due
            if script_done_at is not None and due - script_done_at > AFTER_SCRIPT_S:
                logger.warning(f"call {self.result.call_id}: the bot never ended the call; hanging up")
                self.debtor.hung_up = True
            tick += 1

    async def _receive(self, ws) -> None:
        try:
            async for message in ws:
                incoming = self.wire.parse(message)
                now = self._now()
                if incoming.kind == "audio" and incoming.audio:
                    pcm = np.frombuffer(incoming.audio, dtype="<i2")
                    for listener in self.audio_listeners:
                        listener(now, self._cursor, len(pcm) / self.wire.rate)
                    start = max(now, self._cursor)
                    self.debtor.bot_pcm(pcm, start)
                    self._cursor = start + len(pcm) / self.wire.rate
                    self.result.bot_audio_s += len(pcm) / self.wire.rate
                    if len(pcm) and int(np.abs(pcm).max()) > AUDIBLE:
                        self.debtor.bot_audio(start, self._cursor)
                elif incoming.kind == "mark":
                    self.result.marks.append(incoming.name)
                    self._marks.append((self._cursor, incoming.name))
                elif incoming.kind == "clear":
                    self.result.clears += 1
                    self._cursor = now                    # queued audio is dropped...
                    await self._echo_marks(ws, float("inf"))  # ...and Twilio returns its marks at once
        except websockets.ConnectionClosed:
            pass

    async def _echo_marks(self, ws, played_until: float) -> None:
        while self._marks and self._marks[0][0] <= played_until:
            _, name = self._marks.pop(0)
            echo = self.wire.mark(name)
            if echo is not None:
                try:
                    await ws.send(echo)
                except websockets.ConnectionClosed:
                    return

"""The call's stereo recording (debtor left, bot right), taken at the two ends of the pipeline.

The debtor's audio is taken as it enters (`user_tap`, right after the transport's input), so
it need not travel the rest of the pipeline: the recogniser stops passing it on, which halves
the processors every 40 ms input frame crosses (the largest share of a loaded server's frame
handling, docs/performance.md).  The bot's audio is taken as the transport sends it
(`bot_tap`, after the output) and recorded when it *plays*: the carrier's audio clock is the
debtor's line, so each debtor chunk takes as much queued bot audio beside it.  Audio sent ahead
of playback (the transport's lead) thus lands where the debtor heard it, and a barge-in drops
what the carrier dropped (its `clear`).

`user_tap` also emits an `AudioClockFrame` every `CLOCK_S` of line audio: the dialogue counts
the debtor's silence on it (a simulation may run faster than real time, so the clock must be
the audio's, not the wall's).

A write that fails (a full disk) costs the recording, never the call: the audio that could
not be written is dropped, the first error is logged and kept in `failed` for the call
record, and the dialogue's clock keeps ticking.
"""

from __future__ import annotations

from loguru import logger
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot.frames import AudioClockFrame
from voicebot.recording.wav import GrowingWav

FLUSH_S = 1.0   # write to the WAV about once a second of call
CLOCK_S = 0.2   # the dialogue's silence clock ticks this often


class StereoRecorder:
    def __init__(self, wav: GrowingWav):
        self.wav = wav
        self._user, self._bot = bytearray(), bytearray()  # debtor audio / bot audio beside it
        self._queued = bytearray()                        # bot audio sent, not yet played
        self.failed: str | None = wav.failed  # the first write error: the recording is incomplete
        self._flush_bytes = int(FLUSH_S * wav.sample_rate) * 2
        self._clock_bytes = int(CLOCK_S * wav.sample_rate) * 2
        self._since_tick = 0
        self._user_tap = _UserTap(self)
        self._bot_tap = _BotTap(self)

    def user_tap(self) -> FrameProcessor:
        return self._user_tap

    def bot_tap(self) -> FrameProcessor:
        return self._bot_tap

    def heard(self, audio: bytes) -> AudioClockFrame | None:
        """The debtor's line advanced by `audio`; the bot's queued audio played beside it."""
        n = len(audio) - len(audio) % 2
        played = bytes(self._queued[:n])
        del self._queued[:n]
        self._user += audio[:n]
        self._bot += played + b"\x00" * (n - len(played))
        if len(self._user) >= self._flush_bytes:
            self.flush()
        self._since_tick += n
        if self._since_tick < self._clock_bytes:
            return None
        seconds, self._since_tick = self._since_tick / (2 * self.wav.sample_rate), 0
        return AudioClockFrame(seconds=seconds)

    def sent(self, audio: bytes) -> None:
        self._queued += audio

    def cleared(self) -> None:
        self._queued.clear()

    def flush(self) -> None:
        if self._user:
            left, right = bytes(self._user), bytes(self._bot)
            self._user.clear()
            self._bot.clear()
            self._append(left, right)

    def _append(self, left: bytes, right: bytes) -> None:
        try:
            self.wav.append_stereo(left, right)
        except OSError as exc:
            if self.failed is None:
                logger.error(f"recording {self.wav.path}: {exc}; the call goes on, its recording is incomplete")
                self.failed = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        """The call ended: what was sent but not yet played (the last words) goes in too."""
        self.flush()
        if self._queued:
            self._append(b"\x00" * len(self._queued), bytes(self._queued))
            self._queued.clear()
        try:
            self.wav.close()
        except OSError as exc:
            self.failed = self.failed or f"{type(exc).__name__}: {exc}"


class _UserTap(FrameProcessor):
    def __init__(self, recorder: StereoRecorder):
        super().__init__(name="UserAudioTap")
        self._recorder = recorder

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            tick = self._recorder.heard(frame.audio)
            if tick is not None:
                await self.push_frame(tick)


class _BotTap(FrameProcessor):
    def __init__(self, recorder: StereoRecorder):
        super().__init__(name="BotAudioTap")
        self._recorder = recorder

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, OutputAudioRawFrame):
            self._recorder.sent(frame.audio)
            return  # the end of the pipeline: nobody downstream wants the audio
        if isinstance(frame, InterruptionFrame):
            self._recorder.cleared()
        elif isinstance(frame, EndFrame):
            self._recorder.flush()
        await self.push_frame(frame, direction)

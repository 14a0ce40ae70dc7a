"""Connects a CallSession to the audio pipeline.

In: final transcriptions, keypad digits, VAD and bot-speaking events, input audio (as a clock).
Out: one TTSSpeakFrame per prompt (non-interruptible prompts marked so pipecat keeps them
through barge-in), CallActionFrames, and an EndWorkerFrame once the closing words are queued.

Silence is measured in *audio* time (input frames counted while the bot waits), not wall
time, so a simulation run faster than real time reprompts exactly as a live call would.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from dialogue.session import CallSession, TurnRecord
from voicebot.pipeline.frames import CallActionFrame, TurnTimingFrame
from voicebot.services.piper.base import STATIC_PROMPT


class DialogueProcessor(FrameProcessor):
    def __init__(self, session: CallSession, *,
                 on_timing: Callable[[int, dict[str, float]], None] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._session = session
        self.timing_listeners: list[Callable[[int, dict[str, float]], None]] = [on_timing] if on_timing else []
        self._bot_speaking = False
        self._reply_pending = False     # prompts pushed, first audio not yet out
        self._user_speaking = False
        self._waited_s = 0.0            # audio seconds of silence while waiting for the debtor
        self._vad_stopped_at: float | None = None
        self._vad_stop_secs = 0.0
        self._timing_turn: int | None = None
        self._timing: dict[str, float] = {}
        self._closing = False

    @property
    def session(self) -> CallSession:
        return self._session

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            await self._speak(self._session.open())
            return
        if isinstance(frame, (EndFrame, CancelFrame)) and not self._session.ended:
            self._session.hangup()  # the debtor hung up, or the call was cancelled
        if isinstance(frame, VADUserStartedSpeakingFrame):
            await self._user_started()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._user_speaking = False
            self._vad_stopped_at = time.monotonic()
            self._vad_stop_secs = frame.stop_secs
        elif isinstance(frame, TranscriptionFrame):
            await self._heard(frame)
            return  # consumed: downstream TTS must not speak the debtor's words
        elif isinstance(frame, InputDTMFFrame):
            await self._speak(self._session.dtmf(str(frame.button.value)))
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking, self._reply_pending = True, False
            self._first_audio_out()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            self._waited_s = 0.0
        elif isinstance(frame, InputAudioRawFrame):
            await self._tick(frame)
        await self.push_frame(frame, direction)

    # -- debtor events ---------------------------------------------------------------------
    async def _user_started(self) -> None:
        self._user_speaking = True
        self._waited_s = 0.0
        if (self._bot_speaking or self._reply_pending) and not self._closing:
            # Barge-in: pipecat drops interruptible speech and keeps prompts marked otherwise.
            logger.debug(f"{self}: barge-in")
            self._session.note("barge_in", while_speaking=self._bot_speaking)
            await self.broadcast_interruption()
            self._reply_pending = False

    async def _heard(self, frame: TranscriptionFrame) -> None:
        text = frame.text.strip()
        if not text or self._session.ended:
            return
        heard_at = time.monotonic()
        turn = self._session.hear(text)
        self._timing_turn = turn.index
        self._timing = {"nlu_ms": turn.nlu_ms}
        if self._vad_stopped_at is not None:
            self._timing["asr_ms"] = (heard_at - self._vad_stopped_at) * 1000
            self._timing["vad_stop_secs"] = self._vad_stop_secs
        await self._speak(turn)

    async def _tick(self, frame: InputAudioRawFrame) -> None:
        """Count silence while the bot waits; reprompt after the script's timeout."""
        if self._bot_speaking or self._reply_pending or self._user_speaking or self._session.ended:
            return
        self._waited_s += len(frame.audio) / (2 * frame.sample_rate * frame.num_channels)
        if self._waited_s >= self._session.silence_timeout_s:
            self._waited_s = 0.0
            self._vad_stopped_at = None
            self._timing_turn = None
            await self._speak(self._session.silence())

    # -- bot output ------------------------------------------------------------------------
    async def _speak(self, turn: TurnRecord) -> None:
        for action in turn.actions:
            await self.push_frame(CallActionFrame(action=action))
        for prompt in turn.prompts:
            speak = TTSSpeakFrame(text=prompt["text"], append_to_context=False)
            if prompt.get("static"):
                speak.metadata[STATIC_PROMPT] = True  # same words for every debtor: cached audio
            speak.interruptible = bool(prompt["interruptible"])
            await self.push_frame(speak)
            self._reply_pending = True
        if turn.end and not self._closing:
            self._closing = True
            await self.push_frame(EndWorkerFrame(reason=f"call ended at {turn.bot_nodes[-1:] or 'hangup'}"))

    def _first_audio_out(self) -> None:
        if self._timing_turn is None or self._vad_stopped_at is None:
            return
        now = time.monotonic()
        processing = (now - self._vad_stopped_at) * 1000
        self._timing["processing_ms"] = processing
        self._timing["turn_latency_ms"] = processing + self._vad_stop_secs * 1000
        index, timings = self._timing_turn, dict(self._timing)
        self._timing_turn = None
        self._vad_stopped_at = None
        for listener in self.timing_listeners:
            listener(index, timings)
        self.create_task(self.push_frame(TurnTimingFrame(turn_index=index, timings=timings)))

"""Connects a CallSession to the audio pipeline.

In: final transcriptions, keypad digits, VAD and bot-speaking events, input audio (as a clock).
Out: one TTSSpeakFrame per prompt (non-interruptible prompts marked so pipecat keeps them
through barge-in), CallActionFrames, and an EndWorkerFrame once the closing words are queued.

A transfer, when the call has an `escalate` function (the server's agent queue), holds the
line instead of ending: claimed → HandoffDecisionFrame then the end (the carrier transfers);
unclaimed → the dialogue reopens to take a callback time.  Nothing the debtor says during the
hold is taken as an answer, and silence is not counted.

A debtor who goes on speaking within `continue_window_s` of the end of their turn (in audio
time, on the recorder's AudioClockFrame, so to its 0.2 s tick; without that clock, never), while the
reply to it is still pending or playing ("I can pay" | pause | "on Friday"), had not finished:
the reply is cut off as any barge-in is, the session takes the turn back when it can
(`CallSession.continue_turn`) and hears the whole sentence as one turn, and the VAD processor
upstream is told (`TurnContinuedFrame`) so it waits longer for this debtor from then on.

Silence is measured in *audio* time (input frames counted while the bot waits), not wall
time, so a simulation run faster than real time reprompts exactly as a live call would.
"""

from __future__ import annotations

import asyncio
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
    InputDTMFFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from dialogue.session import CallSession, TurnRecord
from voicebot.frames import (
    AmdVerdictFrame,
    STATIC_PROMPT,
    AudioClockFrame,
    CallActionFrame,
    HandoffDecisionFrame,
    PrefetchSpeechFrame,
    TurnContinuedFrame,
    TurnTimingFrame,
)
from voicebot.pipeline.handoff import Escalate, transfer_of


WORDS_PLAYED_MAX_S = 60.0  # a TTS that never speaks must not keep a caller on hold for ever
# Speech whose VAD start (itself 0.2 s into the speech) comes this soon after the end of the
# debtor's turn, while the reply is pending or playing, goes on with that turn rather than
# answering the reply: a debtor who paused 0.7 s and then 1.3 s more was still mid-thought, and
# had heard at most the reply's first second.
CONTINUE_WINDOW_S = 1.5


class DialogueProcessor(FrameProcessor):
    def __init__(self, session: CallSession, *,
                 on_timing: Callable[[int, dict[str, float]], None] | None = None,
                 escalate: Escalate | None = None, defer_opening: bool = False,
                 continue_window_s: float = CONTINUE_WINDOW_S, **kwargs):
        super().__init__(**kwargs)
        self._session = session
        self._continue_window_s = continue_window_s
        self._audio_s: float | None = None  # line audio so far, once an AudioClockFrame has come
        self._last_stop_at: float | None = None  # audio time the debtor's last turn ended (VAD stop)
        self._started_audio_s: float | None = None  # audio time the debtor last started speaking
        self._continuing = False  # the next words go on with the last turn
        # AMD: the opening waits for an AmdVerdictFrame; speech begun before it is not an answer.
        self._defer_opening = defer_opening
        self._opened_at: float | None = None
        self._user_started_at = 0.0
        self._escalate = escalate
        self._holding = False           # waiting for an agent to claim the call
        self._hold_task: asyncio.Task | None = None
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
            if not self._defer_opening:
                await self._speak(self._session.open())
            return
        if isinstance(frame, AmdVerdictFrame):
            await self._answered(frame)
        if isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop_holding()  # the debtor left the hold: the queue marks it abandoned
            if not self._session.ended:
                self._session.hangup()  # the debtor hung up, or the call was cancelled
        if isinstance(frame, VADUserStartedSpeakingFrame):
            await self._user_started()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._user_speaking = False
            self._vad_stopped_at = time.monotonic()
            self._last_stop_at = self._audio_s
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
        elif isinstance(frame, AudioClockFrame):
            self._audio_s = (self._audio_s or 0.0) + frame.seconds
            await self._tick(frame.seconds)
        await self.push_frame(frame, direction)

    # -- debtor events ---------------------------------------------------------------------
    async def _user_started(self) -> None:
        self._user_speaking = True
        self._user_started_at = time.monotonic()
        self._started_audio_s = self._audio_s
        self._waited_s = 0.0
        if (self._bot_speaking or self._reply_pending) and not self._closing:
            await self._barge_in()

    async def _barge_in(self) -> None:
        """Pipecat drops interruptible speech and keeps prompts marked otherwise.  Speech
        that follows the end of the turn closely enough goes on with that turn."""
        resumed = (self._last_stop_at is not None and self._started_audio_s is not None
                   and self._started_audio_s - self._last_stop_at <= self._continue_window_s)
        self._continuing = resumed and self._session.can_continue()
        logger.debug(f"{self}: barge-in{' (the turn goes on)' if self._continuing else ''}")
        self._session.note("barge_in", while_speaking=self._bot_speaking, continuing=self._continuing)
        await self.broadcast_interruption()
        self._reply_pending = False

    async def _heard(self, frame: TranscriptionFrame) -> None:
        text = frame.text.strip()
        if self._defer_opening and (self._opened_at is None or self._user_started_at < self._opened_at):
            if text:
                self._session.note("heard_before_answer", text=text)
            return
        if self._holding and text:
            self._session.note("heard_on_hold", text=text)
            return
        if not text or self._session.ended:
            return
        heard_at = time.monotonic()
        continuing = self._continuing and self._session.can_continue()
        await asyncio.to_thread(self._session.prepare, text, continuing)
        prepared_ms = (time.monotonic() - heard_at) * 1000
        if self._session.ended:
            return
        if continuing and self._session.can_continue():
            turn = self._session.continue_turn(text)
            await self.push_frame(TurnContinuedFrame(), FrameDirection.UPSTREAM)
        else:
            turn = self._session.hear(text)
        self._continuing = False
        self._timing_turn = turn.index
        self._timing = {"nlu_ms": turn.nlu_ms + prepared_ms}
        if self._vad_stopped_at is not None:
            self._timing["asr_ms"] = (heard_at - self._vad_stopped_at) * 1000
            self._timing["vad_stop_secs"] = self._vad_stop_secs
        await self._speak(turn)
        if self._user_speaking and not self._closing:
            await self._barge_in()  # they went on before these words came back from the recogniser

    async def _tick(self, seconds: float) -> None:
        """Count silence while the bot waits; reprompt after the script's timeout."""
        if (self._bot_speaking or self._reply_pending or self._user_speaking or self._holding
                or self._session.ended or (self._defer_opening and self._opened_at is None)):
            return
        self._waited_s += seconds
        if self._waited_s >= self._session.silence_timeout_s:
            self._waited_s = 0.0
            self._vad_stopped_at = None
            self._timing_turn = None
            self._continuing = False
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
        if not turn.end and (likely := self._session.likely_first_prompts()):
            await self.push_frame(PrefetchSpeechFrame(texts=likely))  # values ready before asked
        if turn.end and not self._closing:
            transfer = transfer_of(turn) if self._escalate else None
            if transfer is not None and self._session.policy.state.handoff is None:
                self._holding = True
                self._hold_task = self.create_task(self._hold(transfer), name="handoff-hold")
                return
            await self._end(f"call ended at {turn.bot_nodes[-1:] or 'hangup'}")

    async def _answered(self, frame: AmdVerdictFrame) -> None:
        """A person (or no verdict): the opening answers their "hello?".  A machine: the
        stage's voicemail, or nothing, then the end."""
        if self._opened_at is not None or self._session.ended:
            return
        self._session.note("amd", verdict=frame.verdict, reason=frame.reason, decided_at_s=frame.decided_at_s,
                           message_at_s=frame.message_at_s, beep_at_s=frame.beep_at_s)
        if frame.verdict in ("machine", "fax"):
            await self._speak(self._session.voicemail(leave_message=frame.leave_message))
        else:
            self._opened_at = time.monotonic()
            await self._speak(self._session.open())

    async def _end(self, reason: str) -> None:
        self._closing = True
        await self.push_frame(EndWorkerFrame(reason=reason))

    async def _hold(self, transfer: dict) -> None:
        """Wait for an agent (the escalate function bounds the wait), then act on the answer."""
        assert self._escalate is not None
        decision = await self._escalate(self._session, transfer, self._words_played)
        self._holding, self._hold_task = False, None
        await self.push_frame(HandoffDecisionFrame(claimed=decision.claimed, agent_id=decision.agent_id,
                                                   endpoint=decision.endpoint))
        if decision.claimed:
            self._session.transfer_claimed(decision.agent_id or "", decision.endpoint)
            await self._end(f"transferred to agent {decision.agent_id}")
        else:
            self._waited_s = 0.0
            await self._speak(self._session.transfer_unclaimed(decision.waited_s))

    async def _words_played(self) -> None:
        """Returns once the transfer words have been heard: the caller's hold starts there."""
        deadline = time.monotonic() + WORDS_PLAYED_MAX_S
        while (self._bot_speaking or self._reply_pending) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def _stop_holding(self) -> None:
        task, self._hold_task = self._hold_task, None
        if task is not None and not task.done():
            await self.cancel_task(task)
        self._holding = False

    async def cleanup(self):
        await self._stop_holding()
        await super().cleanup()

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

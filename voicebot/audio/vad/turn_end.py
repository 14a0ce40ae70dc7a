"""End the debtor's turn when it sounds finished, not after a fixed silence.

With the VAD alone a turn ends after `stop_secs` of silence (0.5 s): most of the gap before the
bot answers, and a slow speaker's pause mid-sentence ("I can pay... um... on Friday") ends the
turn too. Here the VAD's `stop_secs` is the *longest* silence a turn may hold (1.2 s), and at
each pause (`PauseVADProcessor`'s announcement, 0.2 s into the silence, where the recogniser
also starts decoding) the turn's audio goes to Smart Turn v3 (`voicebot.audio.turn`):

- P(complete) above `threshold`: the turn ends right then, in that same pause: the VAD is set
  to QUIET and a `VADUserStoppedSpeakingFrame` goes out whose `stop_secs` is the silence so far,
  so the recogniser keeps its speculative decode and the dialogue's timing stays true;
- otherwise nothing happens: the debtor may go on (the next pause asks again) or stay silent
  until the VAD's own stop.

Nothing else changes: the VAD's start (barge-in), the pause announcement, the segment the
recogniser gets. One inference per pause, on the shared inference threads (`deadline_executor`,
due now: the turn waits for it), never on the event loop; a verdict that comes back after the
debtor spoke again is dropped. The audio kept for the model is the turn since 0.5 s before its
first voiced frame (as pipecat's analyzer), at most the model's 8 s, counted in samples, so a
simulation faster than real time cuts the same audio as a live call.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import numpy as np
from loguru import logger
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection

from voicebot import pipecat_internals
from voicebot.audio.turn.smart_turn import WINDOW_SECS, SmartTurnModel, TurnVerdict
from voicebot.audio.vad.pause import PAUSE_SECS, PauseVADProcessor
from voicebot.services import deadline_executor, stats_log
from voicebot.services.deadline_executor import DeadlineExecutor, inference_executor

PRE_SPEECH_SECS = 0.5  # audio kept from before the first voiced frame (pipecat's pre_speech_ms)
WARM_UP_DUE_S = 1.0    # the model's warm-up run, queued behind work due sooner


class SmartTurnVADProcessor(PauseVADProcessor):
    """`PauseVADProcessor` whose pauses may end the turn early, on Smart Turn's word.

    `vad_analyzer.params.stop_secs` is the fallback: the most silence a turn may hold."""

    def __init__(self, *, vad_analyzer: VADAnalyzer, model: SmartTurnModel, threshold: float = 0.5,
                 pause_secs: float = PAUSE_SECS, executor: DeadlineExecutor | None = None,
                 verdicts_kept: int = 200, **kwargs: Any):
        super().__init__(vad_analyzer=vad_analyzer, pause_secs=pause_secs, **kwargs)
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1) (got {threshold})")
        self._model = model
        self._threshold = threshold
        self._executor = executor
        self._audio: deque[bytes] = deque()  # the turn so far (or the pre-roll between turns)
        self._audio_bytes = 0
        self._lock = asyncio.Lock()  # a verdict ends the turn between frames, never inside one
        #: Recent verdicts with whether each ended the turn (for tests and benchmarks).
        self.verdicts: deque[tuple[TurnVerdict, bool]] = deque(maxlen=verdicts_kept)
        if not model.warm:  # the process's first call: load and run the model once, off the loop,
            # behind anything due in the next second (a debtor's first pause comes later)
            (executor or inference_executor("asr")).submit(deadline_executor.now() + WARM_UP_DUE_S,
                                                           model.warm_up)

    @property
    def threshold(self) -> float:
        return self._threshold

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if not isinstance(frame, InputAudioRawFrame):
            await super().process_frame(frame, direction)
            return
        async with self._lock:
            self._keep(frame.audio)
            await super().process_frame(frame, direction)
            if pipecat_internals.vad_state(self._analyzer) == VADState.QUIET:
                self._trim(PRE_SPEECH_SECS)  # between turns: only the pre-roll

    async def paused(self, silence_secs: float) -> None:
        """Ask the model (first, so it is queued before the recogniser's speculative decode),
        then announce the pause as usual."""
        rate = self._analyzer.sample_rate
        pcm = np.frombuffer(b"".join(self._audio), dtype=np.int16)
        if len(pcm) and rate:
            executor = self._executor or inference_executor("asr")
            future = executor.submit(deadline_executor.now(), self._model.verdict, pcm, rate)
            self.create_task(self._decide(self._pause_id, asyncio.wrap_future(future)),
                             name="smart-turn-verdict")
        await super().paused(silence_secs)

    async def _decide(self, pause_id: int, verdict: asyncio.Future) -> None:
        try:
            result: TurnVerdict = await verdict
        except Exception as exc:  # the VAD's own stop still ends the turn
            logger.warning(f"{self}: turn model failed ({exc}); waiting for the VAD's stop")
            return
        ended = False
        if result.probability > self._threshold:
            async with self._lock:
                silence = self.in_pause(pause_id)
                if silence > 0:
                    await self.end_turn(silence)
                    ended = True
        self.verdicts.append((result, ended))
        stats_log.record("turn", probability=round(result.probability, 4), ended=ended,
                         processing_s=result.processing_secs, cpu_s=result.cpu_secs,
                         audio_s=result.audio_secs)

    async def end_turn(self, silence_secs: float) -> None:
        self._trim(PRE_SPEECH_SECS)
        logger.debug(f"{self}: turn complete after {silence_secs:.2f} s of silence")
        await super().end_turn(silence_secs)

    def _keep(self, audio: bytes) -> None:
        self._audio.append(audio)
        self._audio_bytes += len(audio)
        self._trim(WINDOW_SECS)

    def _trim(self, seconds: float) -> None:
        """Drop the oldest frames while more than `seconds` of audio would remain."""
        limit = int(seconds * (self._analyzer.sample_rate or 8000)) * 2
        while self._audio and self._audio_bytes - len(self._audio[0]) >= limit:
            self._audio_bytes -= len(self._audio.popleft())

"""End the debtor's turn on what they said so far, not after a fixed silence.

A fixed 0.5 s silence is most of the gap before the bot answers, and still cuts off a slow
speaker's pause mid-sentence ("I was going to | um | call you"). The recogniser already
decodes the turn so far at each short pause (`pause.UserPausedFrame`, 0.2 s into the silence:
its speculative decode); it sends those words back upstream (`PauseTranscriptFrame`) and this
processor judges them with `dialogue.nlu.turn_finished`:

- FINISHED ("How much do I owe?", "Yes, this is John.", "I can pay on Friday."): the turn
  ends at once, in that pause, with the decode already done;
- PROBABLY (a whole sentence that often goes on: "I can pay.", "My husband."): it ends when
  the silence reaches `probable_secs`;
- UNFINISHED ("I was going to...", "The problem is.", "If I pay"): only the VAD's own
  `stop_secs`, the longest silence a turn may hold, ends it.

A debtor who went on after a turn ended early (the dialogue sends `TurnContinuedFrame`) pauses
inside sentences: from then on FINISHED waits `probable_secs` and PROBABLY the VAD's
`stop_secs`, a slower reply for that debtor rather than another cut-off.

Words that arrive after the debtor spoke again, or for an older pause, are ignored. The VAD's
start (barge-in), the pauses and the segment the recogniser gets are unchanged. No model runs
here: the recogniser's decode was made anyway.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from loguru import logger
from pipecat.audio.vad.vad_analyzer import VADAnalyzer
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection

from dialogue.nlu.turn_finished import TurnSounds, turn_sounds
from voicebot.audio.vad.pause import PAUSE_SECS, PauseVADProcessor
from voicebot.frames import PauseTranscriptFrame
from voicebot.services import stats_log


class TextTurnVADProcessor(PauseVADProcessor):
    """`PauseVADProcessor` whose pauses may end the turn early, on the words heard so far.

    `vad_analyzer.params.stop_secs` is the fallback: the most silence a turn may hold."""

    def __init__(self, *, vad_analyzer: VADAnalyzer, locale: str = "en", probable_secs: float = 0.7,
                 pause_secs: float = PAUSE_SECS, verdicts_kept: int = 50, **kwargs: Any):
        super().__init__(vad_analyzer=vad_analyzer, pause_secs=pause_secs, **kwargs)
        if not pause_secs <= probable_secs <= vad_analyzer.params.stop_secs:
            raise ValueError(f"probable_secs must be in [pause_secs, stop_secs] (got {probable_secs})")
        self._locale = locale
        self._probable_secs = probable_secs
        self._end_at: tuple[int, float] | None = None  # (pause id, silence) that ends the turn
        self.patient = False  # the debtor went on after an early end: wait longer from now on
        #: Recent verdicts (text, sounds, ended), for tests and benchmarks.
        self.verdicts: deque[tuple[str, TurnSounds, bool]] = deque(maxlen=verdicts_kept)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame) and self._end_at is not None:
            pause_id, at = self._end_at
            silence = self.in_pause(pause_id)
            if silence == 0.0:
                self._end_at = None  # the debtor went on
            elif silence >= at:
                self._end_at = None
                await self.end_turn(silence)

    async def heard_at_pause(self, frame: PauseTranscriptFrame) -> None:
        silence = self.in_pause(frame.pause_id)
        if silence == 0.0:
            return  # the debtor spoke again (or the turn already ended): these words are old
        sounds = turn_sounds(frame.text, self._locale)
        wait = self._wait_for(sounds)
        ended = wait == 0.0
        self.verdicts.append((frame.text, sounds, ended))
        stats_log.record("turn_text", sounds=sounds.value, silence_s=round(silence, 3), patient=self.patient)
        if ended:
            logger.debug(f"{self}: [{frame.text}] sounds finished after {silence:.2f} s of silence")
            await self.end_turn(silence)
        elif wait is not None:
            self._end_at = (frame.pause_id, wait)

    def ended_too_early(self) -> None:
        if not self.patient:
            logger.debug(f"{self}: the debtor went on after an early end: waiting longer from now on")
        self.patient = True

    def _wait_for(self, sounds: TurnSounds) -> float | None:
        """Silence that ends a turn whose words sound so: 0 at once, None the VAD's own stop."""
        if sounds is TurnSounds.FINISHED:
            return self._probable_secs if self.patient else 0.0
        if sounds is TurnSounds.PROBABLY and not self.patient:
            return self._probable_secs
        return None

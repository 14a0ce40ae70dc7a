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
from voicebot.audio.vad.pause import PAUSE_SECS, PauseTranscriptFrame, PauseVADProcessor
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
        ended = sounds is TurnSounds.FINISHED
        self.verdicts.append((frame.text, sounds, ended))
        stats_log.record("turn_text", sounds=sounds.value, silence_s=round(silence, 3))
        if ended:
            logger.debug(f"{self}: [{frame.text}] sounds finished after {silence:.2f} s of silence")
            await self.end_turn(silence)
        elif sounds is TurnSounds.PROBABLY:
            self._end_at = (frame.pause_id, self._probable_secs)

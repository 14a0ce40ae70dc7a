"""Announce a pause inside the debtor's turn, before the VAD is sure the turn has ended.

The VAD ends a turn after `stop_secs` (0.5 s) of silence, and only then could the recogniser
start: its decode (~0.15-0.3 s, more under load) came on top of those 0.5 s, and was most of a
reply's processing time (docs/performance.md). The silence is already there 0.3 s earlier, so
this processor says so with a `UserPausedFrame` once the trailing silence reaches `pause_secs`
(0.2 s); a recogniser that understands it (`LocalWhisperSTTService`) decodes the turn so far
meanwhile and has the transcript ready when the VAD's stop arrives. If the debtor goes on
talking, that decode is wasted and the next pause starts another: a turn's final pause always
passes `pause_secs` on its way to `stop_secs`, so the last announcement belongs to it.
"""

from __future__ import annotations

from typing import Any

from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState
from pipecat.frames.frames import Frame, InputAudioRawFrame, VADUserStoppedSpeakingFrame
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection

from voicebot import pipecat_internals
from voicebot.frames import PauseTranscriptFrame, TurnContinuedFrame, UserPausedFrame

PAUSE_SECS = 0.2  # silence that may end a turn: early enough to decode before the VAD's stop


def trailing_silence_secs(analyzer: VADAnalyzer) -> float:
    """Silence since the debtor last spoke, while the analyzer is deciding whether the turn
    ended (STOPPING); 0 otherwise. Reads the counters of pipecat's VADAnalyzer state machine,
    which every analyzer (webrtcvad, Silero) inherits."""
    if pipecat_internals.vad_state(analyzer) != VADState.STOPPING or not analyzer.sample_rate:
        return 0.0
    frames = pipecat_internals.stopping_frames(analyzer) * analyzer.num_frames_required()
    return frames / analyzer.sample_rate


class PauseVADProcessor(VADProcessor):
    """pipecat's VADProcessor, plus one `UserPausedFrame` per pause of `pause_secs` or more."""

    def __init__(self, *, vad_analyzer: VADAnalyzer, pause_secs: float = PAUSE_SECS, **kwargs: Any):
        super().__init__(vad_analyzer=vad_analyzer, **kwargs)
        if not 0 < pause_secs < vad_analyzer.params.stop_secs:
            raise ValueError(f"pause_secs must be in (0, stop_secs={vad_analyzer.params.stop_secs}) "
                             f"(got {pause_secs})")
        self._analyzer = vad_analyzer
        self._pause_secs = pause_secs
        self._announced = False
        self._pause_id = 0  # the latest pause (numbered before `paused` is called)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, PauseTranscriptFrame):  # ends here: the transport has no use for it
            await self.heard_at_pause(frame)
            return
        if isinstance(frame, TurnContinuedFrame):
            self.ended_too_early()
            return
        await super().process_frame(frame, direction)  # the audio frame goes on first
        if not isinstance(frame, InputAudioRawFrame):
            return
        silence = trailing_silence_secs(self._analyzer)
        if silence == 0.0:
            self._announced = False
        elif silence >= self._pause_secs and not self._announced:
            self._announced = True
            self._pause_id += 1
            await self.paused(silence)

    async def paused(self, silence_secs: float) -> None:
        """The debtor has been silent for `silence_secs` (>= pause_secs): say so downstream.
        Subclasses (`turn_end.SmartTurnVADProcessor`) do more here."""
        await self.push_frame(UserPausedFrame(pause_secs=silence_secs, pause_id=self._pause_id))

    async def heard_at_pause(self, frame: PauseTranscriptFrame) -> None:
        """The recogniser's words at a pause; ending the turn on them is a subclass's choice."""

    def ended_too_early(self) -> None:
        """The last turn ended inside the debtor's sentence; a fixed silence has nothing to learn."""

    def in_pause(self, pause_id: int) -> float:
        """Silence so far if the debtor is still in pause `pause_id`, else 0."""
        if not self._announced or pause_id != self._pause_id:
            return 0.0
        return trailing_silence_secs(self._analyzer)

    async def end_turn(self, silence_secs: float) -> None:
        """Stop the turn now, as the VAD would at `stop_secs`: both pipecat state machines
        (the analyzer's, which `set_params` resets, and its controller's) go to QUIET so
        neither reports this stop again, then the stop frame goes both ways, as VADProcessor
        sends its own. `stop_secs` in the frame is the silence so far, so the recogniser keeps
        the pause's speculative decode and the dialogue's timing stays true."""
        self._analyzer.set_params(self._analyzer.params)
        pipecat_internals.quiet_vad_controller(self)
        self._announced = False
        await self.broadcast_frame(VADUserStoppedSpeakingFrame, stop_secs=silence_secs)

"""Answering-machine detection in the pipeline: listens to the call's first seconds, says who
answered (AmdVerdictFrame) when the bot may act on it, and lets every frame through.

It sits right after transport.input, so it hears the line as the carrier delivers it; the
DialogueProcessor holds the opening until the verdict (see `defer_opening` there).  What to do
on a machine (leave the stage's voicemail, or hang up) comes from the account's jurisdiction
profile, read when the call is built (`amd_setup`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from loguru import logger
from pipecat.frames.frames import Frame, InputAudioRawFrame, StartFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor, FrameProcessorSetup

from dialogue.session import CallSession
from voicebot.audio.amd import AmdDetector, AmdSettings, parse_answered_by, resolve_settings
from voicebot.frames import AmdVerdictFrame

VoicemailPolicy = Literal["leave_message", "hang_up"]
# Used only when no jurisdiction profile can be read (dialogue.compliance not installed yet).
DEFAULT_POLICY: dict[str, VoicemailPolicy] = {"us": "leave_message", "cn": "hang_up"}

@dataclass
class AmdSetup:
    """Everything a call's AMD needs, fixed before the pipeline starts."""

    settings: AmdSettings = field(default_factory=AmdSettings)
    answered_by: str | None = None       # the carrier's verdict (Twilio AnsweredBy), if any
    voicemail: VoicemailPolicy = "leave_message"

def voicemail_policy(session: CallSession) -> VoicemailPolicy:
    """The jurisdiction profile's rule for machines; the jurisdiction is the account's, else
    the locale strategy's."""
    jurisdiction = session.account.jurisdiction or getattr(session.scripts.strategy, "jurisdiction", None)
    if not jurisdiction:
        return "leave_message"
    try:
        from dialogue.compliance.profile import load_profile  # part of the compliance profiles
    except ImportError:
        return DEFAULT_POLICY.get(jurisdiction, "leave_message")
    profile = load_profile(jurisdiction)
    return "hang_up" if getattr(profile, "voicemail", "leave_message") == "hang_up" else "leave_message"

def amd_setup(session: CallSession, answered_by: str | None = None,
              overrides: dict[str, Any] | None = None) -> AmdSetup:
    """Settings from the defaults, the locale's strategy `amd:`, then `overrides` (the server's);
    a bad name or value is a ValueError that says where it came from."""
    try:
        settings = resolve_settings(session.scripts.strategy.amd, overrides)
    except ValueError as exc:
        raise ValueError(f"answering-machine settings ({session.scripts.root}/strategy.yaml amd: "
                         f"or the server's): {exc}") from None
    return AmdSetup(settings, parse_answered_by(answered_by), voicemail_policy(session))

class AmdProcessor(FrameProcessor):
    def __init__(self, setup: AmdSetup, **kwargs):
        super().__init__(**kwargs)
        self.amd = setup
        self.detector: AmdDetector | None = None
        self.verdict: AmdVerdictFrame | None = None
        self._pending = np.zeros(0, dtype=np.int16)
        self._rate = 0

    async def setup(self, setup: FrameProcessorSetup):
        await super().setup(setup)
        self._rate = setup.audio_in_sample_rate

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.detector = AmdDetector(self._rate, self.amd.settings, self.amd.answered_by)
            await self._maybe_decide()  # the carrier may have decided already
        elif isinstance(frame, InputAudioRawFrame) and self.verdict is None and self.detector is not None:
            self._listen(frame)
            await self._maybe_decide()

    def _listen(self, frame: InputAudioRawFrame) -> None:
        detector = self.detector
        assert detector is not None
        pcm = np.frombuffer(frame.audio, dtype="<i2")
        if frame.num_channels > 1:
            pcm = pcm[::frame.num_channels]
        if frame.sample_rate != detector.analyzer.rate:
            raise ValueError(f"AMD was started at {detector.analyzer.rate} Hz but audio arrives at "
                             f"{frame.sample_rate} Hz")
        self._pending = np.concatenate([self._pending, pcm])
        n = detector.analyzer.samples
        while len(self._pending) >= n and not detector.done:
            detector.feed_pcm(self._pending[:n])
            self._pending = self._pending[n:]

    async def _maybe_decide(self) -> None:
        d = self.detector
        if d is None or not d.done or self.verdict is not None:
            return
        verdict = d.verdict or "unknown"
        self.verdict = AmdVerdictFrame(
            verdict=verdict, reason=d.reason, decided_at_s=round(d.decided_at_s or 0.0, 3),
            message_at_s=None if d.ready_at_s is None else round(d.ready_at_s, 3),
            beep_at_s=None if d.beep_at_s is None else round(d.beep_at_s, 3),
            leave_message=verdict == "machine" and self.amd.voicemail == "leave_message")
        logger.debug(f"{self}: {verdict} ({d.reason}) decided at {d.decided_at_s:.2f} s")
        await self.push_frame(self.verdict)

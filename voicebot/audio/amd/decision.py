"""Human, machine or unknown, decided frame by frame in the first seconds after answer.

    person:  "hello?" (under max_greeting_s) ... silence_after_greeting_s of quiet  -> human
    machine: speech running past max_greeting_s, or a beep at any time              -> machine
    nothing decisive by decision_deadline_s                                         -> unknown

A machine verdict is not yet the moment to speak: a message said over the greeting is lost.
After it the detector keeps listening for the beep (the message starts when the tone stops),
or for the greeting to end in silence, and sets `ready_at_s`.  The carrier's own verdict
(Twilio's `AnsweredBy`) wins over the audio when it gives one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from telephony.carriers.answered_by import ANSWERED_BY, parse_answered_by  # noqa: F401 (re-exported)
from voicebot.audio.amd.config import AmdSettings
from voicebot.audio.amd.features import FRAME_S, FrameAnalyzer, FrameFeatures, frames_of

STILL_TALKING_S = 0.3  # a pause shorter than this is between words, not after a greeting
Verdict = Literal["human", "machine", "unknown", "fax"]

# Twilio's AnsweredBy values -> (verdict, the greeting is already over)
CARRIER_VERDICTS: dict[str, tuple[Verdict, bool] | None] = {
    "human": ("human", True),
    "machine_start": ("machine", False),
    "machine_end_beep": ("machine", True),
    "machine_end_silence": ("machine", True),
    "machine_end_other": ("machine", True),
    "fax": ("fax", True),
    "unknown": None,  # the carrier could not tell: listen ourselves
}
assert set(CARRIER_VERDICTS) == set(ANSWERED_BY), "every verdict a carrier may send has a meaning"


@dataclass
class _Beep:
    start_s: float
    hz: float
    last_s: float


class AmdDetector:
    """Feed every 20 ms input frame in order; read `verdict` and, for a machine, `ready_at_s`."""

    def __init__(self, sample_rate: int, settings: AmdSettings | None = None,
                 answered_by: str | None = None):
        self.settings = settings or AmdSettings()
        self.analyzer = FrameAnalyzer(sample_rate, self.settings)
        self.now_s = 0.0
        self.verdict: Verdict | None = None
        self.decided_at_s: float | None = None
        self.ready_at_s: float | None = None     # machine: when to leave the message
        self.reason = ""
        self.beep_at_s: float | None = None
        self._speech_start: float | None = None  # the greeting's first voiced frame
        self._speech_end: float | None = None    # end of its last voiced frame
        self._run_start: float | None = None     # current burst of voiced frames
        self._beep: _Beep | None = None
        if answered_by:
            self._carrier(parse_answered_by(answered_by))

    @property
    def done(self) -> bool:
        """Nothing more to learn from the audio: a person (or unknown), or a machine ready."""
        return self.verdict in ("human", "unknown", "fax") or self.ready_at_s is not None

    def feed_pcm(self, frame: np.ndarray) -> None:
        self.feed(self.analyzer.analyze(frame))

    def feed(self, f: FrameFeatures) -> None:
        start, self.now_s = self.now_s, round(self.now_s + FRAME_S, 6)  # no float drift at the deadline
        if self.done:
            return
        self._track_beep(f, start)
        if self.done:
            return
        self._track_speech(f, start)
        if self.verdict is None:
            self._decide()
        elif self.verdict == "machine":
            self._wait_for_end()

    # -- inputs -------------------------------------------------------------------------------
    def _carrier(self, value: str | None) -> None:
        mapped = CARRIER_VERDICTS.get(value or "")
        if mapped is None:
            return
        verdict, over = mapped
        self._set(verdict, f"carrier:{value}")
        if verdict == "machine" and over:
            self.ready_at_s = 0.0

    def _track_beep(self, f: FrameFeatures, start: float) -> None:
        s = self.settings
        beep = self._beep
        if f.tone_hz is not None and beep is not None and abs(f.tone_hz - beep.hz) <= s.beep_drift_hz:
            beep.last_s = self.now_s
            if self.beep_at_s is None and beep.last_s - beep.start_s >= s.beep_min_s:
                self.beep_at_s = beep.start_s
                if self.verdict is None:
                    self._set("machine", "beep")
            return
        if beep is not None and self.beep_at_s is not None and self.beep_at_s == beep.start_s:
            self.ready_at_s = start   # the tone stopped: the machine is recording
            if not self.reason.startswith("beep"):
                self.reason += "+beep"
            return
        self._beep = _Beep(start, f.tone_hz, self.now_s) if f.tone_hz is not None else None

    def _track_speech(self, f: FrameFeatures, start: float) -> None:
        if f.speech:
            if self._run_start is None:
                self._run_start = start
            if self.now_s - self._run_start >= self.settings.min_speech_s:
                if self._speech_start is None:
                    self._speech_start = self._run_start
                self._speech_end = self.now_s
        else:
            self._run_start = None

    # -- decisions ------------------------------------------------------------------------------
    def _decide(self) -> None:
        s = self.settings
        if self._speech_start is not None:
            talking = self._speech_end - self._speech_start
            quiet = self.now_s - self._speech_end
            if talking > s.max_greeting_s:
                self._set("machine", "greeting")
                return
            if quiet >= s.silence_after_greeting_s and self._beep is None:  # a tone may be a beep
                self._set("human", "short_greeting")
                return
        if self.now_s >= s.decision_deadline_s:
            still_talking = self._speech_end is not None and self.now_s - self._speech_end <= STILL_TALKING_S
            if still_talking and self._speech_end - self._speech_start >= s.long_at_deadline_s:
                self._set("machine", "greeting_at_deadline")  # still talking: people rarely do
            elif self._speech_start is not None and not still_talking:
                self._set("human", "short_greeting_at_deadline")  # said a little, now waits
            else:
                self._set("unknown", "deadline" if self._speech_start is None else "deadline_in_speech")

    def _wait_for_end(self) -> None:
        s = self.settings
        if self._beep is not None and self._beep.last_s >= self.now_s:
            return  # a tone may be starting
        if self._speech_end is not None and self.now_s - self._speech_end >= s.machine_end_silence_s:
            self.ready_at_s = self.now_s
            self.reason += "+silence"
        elif self.now_s - (self.decided_at_s or 0.0) >= s.beep_search_s:
            self.ready_at_s = self.now_s
            self.reason += "+no_beep"

    def _set(self, verdict: Verdict, reason: str) -> None:
        self.verdict, self.reason, self.decided_at_s = verdict, reason, self.now_s


def detect(pcm: np.ndarray, sample_rate: int, settings: AmdSettings | None = None,
           answered_by: str | None = None) -> AmdDetector:
    """Run the detector over a whole recording (t = 0 at answer), as the live processor would."""
    detector = AmdDetector(sample_rate, settings, answered_by)
    for frame in frames_of(pcm, sample_rate):
        if detector.done:
            break
        detector.feed_pcm(frame)
    if detector.verdict is None:
        detector.verdict, detector.reason, detector.decided_at_s = "unknown", "clip_ended", detector.now_s
    return detector

"""Answering-machine detection: greeting shape, beep, carrier verdict (pure numpy + webrtcvad)."""

from voicebot.audio.amd.config import AmdSettings, resolve_settings
from voicebot.audio.amd.decision import CARRIER_VERDICTS, AmdDetector, Verdict, detect, parse_answered_by
from voicebot.audio.amd.features import FrameAnalyzer, FrameFeatures, frames_of

__all__ = ["AmdDetector", "AmdSettings", "CARRIER_VERDICTS", "FrameAnalyzer", "FrameFeatures",
           "Verdict", "detect", "frames_of", "parse_answered_by", "resolve_settings"]

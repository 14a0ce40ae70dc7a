"""Voice activity detection: webrtcvad for pipecat, and a factory that config can drive."""

from voicebot.audio.vad.factory import VAD_KINDS, VADKind, make_vad_analyzer
from voicebot.audio.vad.webrtc import WebRTCVADAnalyzer

__all__ = ["VAD_KINDS", "VADKind", "WebRTCVADAnalyzer", "make_vad_analyzer"]

"""Pick a VAD analyzer by name, so configuration (not code) chooses the detector.

``webrtc`` is the default: about 2 us per 20 ms frame, enough for telephone lines.
``silero`` (bundled with pipecat, ONNX) is about 100 times costlier but more robust to music
and loud background noise; choose it per campaign if lines are noisy.
"""

from __future__ import annotations

from typing import Literal

from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams

from voicebot.audio.vad.webrtc import DEFAULT_MODE, WebRTCVADAnalyzer

VADKind = Literal["webrtc", "silero"]
VAD_KINDS: tuple[str, ...] = ("webrtc", "silero")


def make_vad_analyzer(
    kind: VADKind = "webrtc",
    sample_rate: int | None = None,
    params: VADParams | None = None,
    *,
    webrtc_mode: int = DEFAULT_MODE,
) -> VADAnalyzer:
    """Create a fresh analyzer for one call's audio stream.

    Analyzers keep per-stream state (webrtcvad's noise model, Silero's recurrent state), so
    never share one between calls.

    Args:
        kind: ``"webrtc"`` (default) or ``"silero"``.
        sample_rate: Input rate in Hz (8000 or 16000 for telephony); ``None`` adopts the
            pipeline's ``audio_in_sample_rate`` at start.
        params: pipecat VAD parameters (confidence, start_secs, stop_secs, min_volume).
        webrtc_mode: webrtcvad aggressiveness 0-3, ignored for Silero.

    Raises:
        ValueError: For an unknown kind or a sample rate the detector cannot handle.
    """
    if kind == "webrtc":
        return WebRTCVADAnalyzer(sample_rate=sample_rate, params=params, mode=webrtc_mode)
    if kind == "silero":
        if sample_rate is not None and sample_rate not in (8000, 16000):
            raise ValueError(f"Silero VAD supports 8000 or 16000 Hz (got {sample_rate} Hz)")
        # Imported here: it loads onnxruntime, which webrtc-only deployments never need.
        from pipecat.audio.vad.silero import SileroVADAnalyzer

        return SileroVADAnalyzer(sample_rate=sample_rate, params=params)
    raise ValueError(f"unknown VAD kind {kind!r}; expected one of {', '.join(VAD_KINDS)}")

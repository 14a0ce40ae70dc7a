"""WebRTC voice activity detection for pipecat, the cheap default for phone calls.

webrtcvad (Google's WebRTC GMM detector) costs about 2 us per 20 ms frame, against about
170 us per 32 ms window for Silero (see /work/shared/STACK.md), so one core can gate
thousands of concurrent calls. It is less robust than Silero to music and loud noise, which
is why :func:`voicebot.audio.vad.make_vad_analyzer` can still select Silero.

webrtcvad answers yes/no per frame. pipecat's :class:`VADAnalyzer` state machine already
does the smoothing a binary detector needs: ``start_secs`` of consecutive voiced frames
before "started speaking", ``stop_secs`` of unvoiced frames before "stopped speaking", plus
a loudness gate (``min_volume``). So the confidence is simply 1.0 or 0.0, and any
``VADParams.confidence`` in (0, 1] means "webrtcvad said speech".
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import webrtcvad
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState
from pipecat.audio.volume import VOLUME_WINDOW_SECS

from voicebot import pipecat_internals

#: Sample rates webrtcvad accepts (the test suite covers the two telephony ones, 8 and 16 kHz).
SUPPORTED_SAMPLE_RATES = (8000, 16000, 32000, 48000)
#: Frame lengths webrtcvad accepts.
SUPPORTED_FRAME_MS = (10, 20, 30)
#: 20 ms matches carrier packetisation (G.711 RTP and Twilio media frames are 20 ms).
DEFAULT_FRAME_MS = 20
#: Aggressiveness 0 (least) .. 3 (most). 2 rejects line noise without clipping soft onsets.
DEFAULT_MODE = 2
#: BS.1770's absolute gate: quieter blocks measure as silence (volume 0), as in pipecat.
ABSOLUTE_GATE_LUFS = -70.0


class WebRTCVADAnalyzer(VADAnalyzer):
    """pipecat VAD analyzer backed by webrtcvad.

    One analyzer serves one audio stream (webrtcvad adapts its noise model to the stream),
    so create one per call, as with every pipecat analyzer.
    """

    def __init__(
        self,
        *,
        sample_rate: int | None = None,
        params: VADParams | None = None,
        mode: int = DEFAULT_MODE,
        frame_ms: int = DEFAULT_FRAME_MS,
    ):
        """Create the analyzer.

        Args:
            sample_rate: Input rate in Hz; ``None`` takes the pipeline's input rate at start.
            params: pipecat VAD timing/threshold parameters.
            mode: webrtcvad aggressiveness, 0-3 (default 2).
            frame_ms: Analysis frame, 10, 20 or 30 ms (default 20).

        Raises:
            ValueError: For an unsupported mode, frame length or sample rate.
        """
        if mode not in (0, 1, 2, 3):
            raise ValueError(f"webrtcvad mode must be 0, 1, 2 or 3 (got {mode})")
        if frame_ms not in SUPPORTED_FRAME_MS:
            raise ValueError(f"webrtcvad frames must be 10, 20 or 30 ms (got {frame_ms})")
        if sample_rate is not None:
            _check_sample_rate(sample_rate)
        super().__init__(sample_rate=sample_rate, params=params)
        self._fixed_rate = sample_rate
        self._mode = mode
        self._frame_ms = frame_ms
        self._vad = webrtcvad.Vad(mode)
        # Mean squares of the frames in the loudness window (the analyzer hands over whole
        # frames of `frame_ms`, so their mean is the window's); at least 400 ms of them.
        self._energies: deque[float] = deque(maxlen=math.ceil(VOLUME_WINDOW_SECS * 1000 / frame_ms))

    def _get_smoothed_volume(self, audio: bytes) -> float:  # pipecat_internals.VOLUME_HOOK
        """The loudness gate's input, as pipecat's, from a running RMS instead of BS.1770.

        pipecat measures ITU-R BS.1770 loudness (K-weighting filters) over the last 400 ms on
        every frame, which cost more than webrtcvad itself: ~5 % of a loaded server's CPU. The
        gate only asks "quieter than about -50 LUFS?", which an RMS level answers within a few
        dB on speech; same 0..1 scale (-110..-10 dB), same smoothing, 0 until 400 ms are in."""
        samples = np.frombuffer(audio, dtype="<i2").astype(np.float32)
        self._energies.append(float(np.dot(samples, samples)) / len(samples) / 32768.0 ** 2)
        if len(self._energies) < (self._energies.maxlen or 0):
            volume = 0.0
        else:
            mean_square = sum(self._energies) / len(self._energies)
            level = 10 * math.log10(mean_square) - 0.691 if mean_square > 0 else -math.inf
            volume = 0.0 if level < ABSOLUTE_GATE_LUFS else min(1.0, max(0.0, (level + 110) / 100))
        return pipecat_internals.smooth_volume(self, volume)

    async def analyze_audio(self, buffer: bytes) -> VADState:
        """Analyse inline, on the event loop.  pipecat hands every 20 ms buffer to a thread
        executor, which suits Silero's ~0.2 ms but costs far more than webrtcvad's ~2 us: the
        benchmark's profile put that hop at about 10 % of a loaded server's CPU."""
        return pipecat_internals.analyze_inline(self, buffer)

    @property
    def mode(self) -> int:
        """webrtcvad aggressiveness in use."""
        return self._mode

    @property
    def frame_ms(self) -> int:
        """Analysis frame length in milliseconds."""
        return self._frame_ms

    def set_sample_rate(self, sample_rate: int):
        """Adopt the stream's sample rate, refusing the ones webrtcvad cannot analyse.

        Raises:
            ValueError: If the effective rate is not 8, 16, 32 or 48 kHz.
        """
        _check_sample_rate(self._fixed_rate or sample_rate)
        super().set_sample_rate(sample_rate)

    def num_frames_required(self) -> int:
        """Samples per analysis frame (160 at 8 kHz, 320 at 16 kHz for 20 ms)."""
        return self.sample_rate * self._frame_ms // 1000

    def voice_confidence(self, buffer: bytes) -> float:
        """Return 1.0 if webrtcvad hears speech in this frame, else 0.0.

        Unlike pipecat's Silero analyzer this raises instead of returning 0 on bad input:
        pipecat itself always slices exact frames, so a wrong size means a caller bug
        (wrong rate or frame length) that would otherwise read as endless silence.

        Raises:
            ValueError: If the sample rate is unset or ``buffer`` is not exactly one frame.
        """
        if not self.sample_rate:
            raise ValueError("WebRTCVADAnalyzer: sample rate not set (call set_sample_rate)")
        expected = self.num_frames_required() * 2
        if len(buffer) != expected:
            raise ValueError(
                f"WebRTCVADAnalyzer: expected {expected} bytes "
                f"({self._frame_ms} ms of 16-bit mono at {self.sample_rate} Hz), "
                f"got {len(buffer)}"
            )
        return 1.0 if self._vad.is_speech(buffer, self.sample_rate) else 0.0


def _check_sample_rate(sample_rate: int) -> None:
    if sample_rate not in SUPPORTED_SAMPLE_RATES:
        raise ValueError(
            f"webrtcvad supports {', '.join(map(str, SUPPORTED_SAMPLE_RATES))} Hz "
            f"(got {sample_rate} Hz); resample the input first"
        )

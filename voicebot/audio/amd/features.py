"""What the detector looks at in each 20 ms frame: is it speech, is it a steady tone, how loud.

Speech comes from webrtcvad (the same cheap detector the pipeline uses); a beep is a narrow
spectral peak between 400 and 2000 Hz found with a numpy FFT over the last 40 ms.  A tone
frame never counts as speech: webrtcvad calls a 1 kHz beep "voiced", and a beep read as more
greeting would hide the very moment the bot should start talking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import webrtcvad

from voicebot.audio.amd.config import AmdSettings

FRAME_S = 0.02
FFT_SIZE = 1024          # zero-padded: 7.8 Hz per bin at 8 kHz, enough to see a beep's drift
PEAK_HALF_WIDTH_HZ = 60  # a Hann-windowed 40 ms tone spreads over about +-50 Hz
BAND_HZ = (200.0, 3600.0)
SUPPORTED_RATES = (8000, 16000)


@dataclass(frozen=True)
class FrameFeatures:
    speech: bool
    tone_hz: float | None   # frequency of a steady narrow peak, or None
    level_dbfs: float


class FrameAnalyzer:
    """Turns 20 ms of int16 mono PCM into FrameFeatures; one per call (webrtcvad keeps state)."""

    def __init__(self, sample_rate: int, settings: AmdSettings):
        if sample_rate not in SUPPORTED_RATES:
            raise ValueError(f"AMD runs at {SUPPORTED_RATES} Hz, not {sample_rate}")
        self.rate = sample_rate
        self.samples = int(sample_rate * FRAME_S)
        self.settings = settings
        self._vad = webrtcvad.Vad(settings.vad_mode)
        self._prev = np.zeros(self.samples, dtype=np.float64)
        self._window = np.hanning(2 * self.samples)
        freqs = np.fft.rfftfreq(FFT_SIZE, 1 / sample_rate)
        self._band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
        self._beep = (freqs >= settings.beep_min_hz) & (freqs <= settings.beep_max_hz)
        self._freqs = freqs
        self._half = int(round(PEAK_HALF_WIDTH_HZ / (freqs[1] - freqs[0])))

    def analyze(self, frame: np.ndarray) -> FrameFeatures:
        if len(frame) != self.samples:
            raise ValueError(f"expected {self.samples} samples (20 ms), got {len(frame)}")
        x = frame.astype(np.float64)
        rms = float(np.sqrt(np.mean(x * x))) if len(x) else 0.0
        level = 20 * np.log10(max(rms, 1e-3) / 32768.0)
        tone = self._tone(np.concatenate([self._prev, x])) if level > self.settings.min_level_dbfs else None
        self._prev = x
        speech = False
        if level > self.settings.min_level_dbfs:
            voiced = self._vad.is_speech(frame.astype("<i2").tobytes(), self.rate)
            speech = voiced and tone is None
        return FrameFeatures(speech, tone, float(level))

    def _tone(self, x: np.ndarray) -> float | None:
        spectrum = np.abs(np.fft.rfft(x * self._window, FFT_SIZE)) ** 2
        band_energy = spectrum[self._band].sum()
        if band_energy <= 0:
            return None
        masked = np.where(self._beep, spectrum, 0.0)
        peak = int(np.argmax(masked))
        lo, hi = max(0, peak - self._half), peak + self._half + 1
        purity = spectrum[lo:hi].sum() / band_energy
        if purity < self.settings.beep_purity:
            return None
        return float(self._freqs[peak])


def frames_of(pcm: np.ndarray, sample_rate: int) -> list[np.ndarray]:
    """Whole 20 ms frames of a clip (a trailing part frame is dropped)."""
    n = int(sample_rate * FRAME_S)
    return [pcm[i:i + n] for i in range(0, len(pcm) - n + 1, n)]

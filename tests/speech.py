"""Synthetic test speech for the listening-side tests (VAD, Whisper, Vosk), made offline.

Why this exists: the ASR and VAD tests must run against real models with real audio, but
no recorded speech ships with the repository and nothing can be downloaded. espeak-ng
(Debian package ``espeak-ng``) speaks English and Korean offline, and sox (Debian package
``sox``) resamples with a proper anti-aliasing filter, so the tests can say exactly the
debtor lines they want to recognise.

Everything returned here is mono 16-bit PCM as a ``numpy.int16`` array; ``pcm.tobytes()``
is what a pipecat ``InputAudioRawFrame`` carries.

- :func:`synthesize` -- text to speech with espeak-ng, resampled by sox to 8 or 16 kHz.
- :func:`telephone` -- a G.711 mu-law round trip at 8 kHz, to simulate what a phone
  carrier (e.g. Twilio Media Streams) delivers: band-limited, companded audio.
- :func:`pad` -- silence (optionally faint noise) before and after an utterance, so VAD has
  something to start and stop on.
- :func:`noise` -- white noise at a given level, for VAD false-positive checks.
- :func:`word_error_rate` -- Levenshtein WER over normalised words (`voicebot.evaluation.text_error`).

Output is deterministic (espeak-ng is, and sox runs with ``-D``: its default dither adds
random noise, which made transcripts differ from run to run).

espeak-ng voices are much harder for ASR than human or neural-TTS speech (see
/work/shared/STACK.md: WER 0.26 against 0.11 for Piper on Whisper tiny.en), so use loose
bounds. Voices: ``en-us`` (male), ``en-us+f3`` (female pitch), ``ko`` (Korean).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from voicebot.evaluation.text_error import word_error_rate  # noqa: F401  (shared with the NLU audio eval)

ESPEAK = shutil.which("espeak-ng")
SOX = shutil.which("sox")


def available() -> bool:
    """Whether espeak-ng and sox are on PATH (tests skip without them)."""
    return ESPEAK is not None and SOX is not None


def synthesize(
    text: str, *, voice: str = "en-us", sample_rate: int = 16000, words_per_minute: int = 160
) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return int16 PCM at ``sample_rate``.

    espeak-ng renders at 22,050 Hz; sox converts to the requested rate. espeak-ng's
    ``--stdout`` WAV header carries a placeholder length, so it writes a real file instead.
    """
    if not available():
        raise RuntimeError("espeak-ng and sox are required (apt-get install espeak-ng sox)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            [ESPEAK, "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        raw = subprocess.run(
            [SOX, "-D", str(wav), "-t", "raw", "-r", str(sample_rate), "-e", "signed-integer",
             "-b", "16", "-c", "1", "-"],
            check=True,
            capture_output=True,
        ).stdout
    return np.frombuffer(raw, dtype=np.int16).copy()


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample int16 PCM with sox (band-limited, unlike naive decimation; no dither)."""
    if from_rate == to_rate:
        return pcm
    out = subprocess.run(
        [SOX, "-D", "-t", "raw", "-r", str(from_rate), "-e", "signed-integer", "-b", "16", "-c", "1",
         "-", "-t", "raw", "-r", str(to_rate), "-e", "signed-integer", "-b", "16", "-c", "1", "-"],
        input=pcm.astype(np.int16).tobytes(),
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(out, dtype=np.int16).copy()


_MULAW_BIAS = 0x84
_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


def mulaw_encode(pcm: np.ndarray) -> np.ndarray:
    """G.711 mu-law encode int16 samples to uint8 codes (bit-exact with the classic g711.c)."""
    v = pcm.astype(np.int32) >> 2  # 14-bit magnitude, arithmetic shift as in g711.c
    mask = np.where(v < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(v), 8159) + 0x21
    seg = np.searchsorted(_SEGMENT_ENDS, mag)  # first segment whose end >= mag
    code = np.where(seg > 7, 0x7F, (seg << 4) | ((mag >> (seg + 1)) & 0x0F))  # clip at full scale
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def mulaw_decode(codes: np.ndarray) -> np.ndarray:
    """G.711 mu-law decode uint8 codes to int16 samples."""
    u = ~codes.astype(np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return np.where(sign != 0, -mag, mag).astype(np.int16)


def telephone(pcm: np.ndarray, sample_rate: int) -> np.ndarray:
    """Simulate a phone line: resample to 8 kHz and round-trip through G.711 mu-law.

    Returns int16 PCM at 8 kHz (what a carrier's mu-law stream decodes to).
    """
    narrow = resample(pcm, sample_rate, 8000)
    return mulaw_decode(mulaw_encode(narrow))


def noise(seconds: float, sample_rate: int, *, dbfs: float = -45.0, seed: int = 0) -> np.ndarray:
    """White noise at ``dbfs`` RMS (relative to int16 full scale), as int16 PCM."""
    rng = np.random.default_rng(seed)
    rms = 32768.0 * 10 ** (dbfs / 20)
    samples = rng.normal(0.0, rms, int(seconds * sample_rate))
    return np.clip(samples, -32768, 32767).astype(np.int16)


def pad(
    pcm: np.ndarray,
    sample_rate: int,
    *,
    before: float = 0.5,
    after: float = 1.0,
    noise_dbfs: float | None = None,
) -> np.ndarray:
    """Surround an utterance with ``before``/``after`` seconds of silence.

    With ``noise_dbfs`` the padding (and the speech) gets faint white noise instead of digital
    silence, which is closer to a real line and exercises VAD's rejection of noise.
    """
    head = np.zeros(int(before * sample_rate), dtype=np.int16)
    tail = np.zeros(int(after * sample_rate), dtype=np.int16)
    out = np.concatenate([head, pcm.astype(np.int16), tail])
    if noise_dbfs is not None:
        floor = noise(len(out) / sample_rate, sample_rate, dbfs=noise_dbfs)[: len(out)]
        out = np.clip(out.astype(np.int32) + floor, -32768, 32767).astype(np.int16)
    return out

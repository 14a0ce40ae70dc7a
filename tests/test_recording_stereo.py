"""The stereo recording is taken at the pipeline's two ends: the bot's audio is written where
the debtor heard it (played beside the debtor's line), not when the transport sent it ahead."""

from __future__ import annotations

import wave

import numpy as np

from voicebot.recording.stereo import StereoRecorder
from voicebot.recording.wav import GrowingWav

RATE = 8000


def tone(value: int, seconds: float) -> bytes:
    return np.full(int(RATE * seconds), value, dtype="<i2").tobytes()


def read(path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)


def test_bot_audio_sent_ahead_is_recorded_as_it_plays(tmp_path):
    rec = StereoRecorder(GrowingWav(tmp_path / "call.wav", RATE))
    ticks = [rec.heard(tone(0, 0.04)) for _ in range(5)]        # 0.2 s of line before the bot talks
    assert [t is not None for t in ticks] == [False] * 4 + [True]  # the dialogue's clock: every 0.2 s
    assert abs(ticks[-1].seconds - 0.2) < 1e-9
    rec.sent(tone(1000, 0.5))                                     # the transport sends 0.5 s at once
    for _ in range(10):                                           # the line runs 0.4 s
        rec.heard(tone(7, 0.04))
    rec.cleared()                                                 # a barge-in: the carrier drops the rest
    for _ in range(5):
        rec.heard(tone(7, 0.04))
    rec.sent(tone(2000, 0.3))                                     # the last words, then the call ends
    rec.close()
    audio = read(tmp_path / "call.wav")
    left, right = audio[:, 0], audio[:, 1]
    assert len(audio) == int(RATE * 0.8) + int(RATE * 0.3)       # the line, then the unplayed last words
    assert (right[: int(RATE * 0.2)] == 0).all()                 # nothing before the bot talked
    played = right[int(RATE * 0.2): int(RATE * 0.6)]
    assert (played == 1000).all()                                 # 0.4 s played beside the debtor
    assert (left[int(RATE * 0.2): int(RATE * 0.6)] == 7).all()
    assert (right[int(RATE * 0.6): int(RATE * 0.8)] == 0).all()   # the dropped 0.1 s is not in it
    assert (right[int(RATE * 0.8):] == 2000).all()


def test_recording_survives_without_close(tmp_path):
    """Written about once a second: a crash loses at most the last second."""
    rec = StereoRecorder(GrowingWav(tmp_path / "call.wav", RATE))
    rec.sent(tone(500, 2.0))
    for _ in range(30):
        rec.heard(tone(3, 0.04))                                  # 1.2 s of call
    audio = read(tmp_path / "call.wav")
    assert len(audio) == RATE  # the first second, readable while the call goes on
    assert (audio[:, 0] == 3).all() and (audio[:, 1] == 500).all()

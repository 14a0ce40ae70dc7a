"""A beep as answering machines play it: a steady sine with soft edges (no click at the ends).

Used to play an answering machine in simulations and to build the labelled AMD set."""

from __future__ import annotations

import numpy as np

EDGE_S = 0.01


def beep(hz: float, seconds: float, sample_rate: int, dbfs: float = -14.0) -> np.ndarray:
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    amp = 32768.0 * 10 ** (dbfs / 20) * np.sqrt(2)
    wave = amp * np.sin(2 * np.pi * hz * t)
    edge = min(n // 2, int(EDGE_S * sample_rate))
    if edge:
        ramp = np.linspace(0.0, 1.0, edge)
        wave[:edge] *= ramp
        wave[-edge:] *= ramp[::-1]
    return np.clip(wave, -32768, 32767).astype(np.int16)

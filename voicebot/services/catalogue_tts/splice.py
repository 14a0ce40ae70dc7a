"""Join separately rendered runs of one sentence so they sound like one sentence.

A sentence with an account's values in it ("I'm calling from Northwind Bank about your payment
of $1,240.50, which was due on November 3.") is mostly fixed script text. Rendering its fixed
runs once and replaying them from the prompt cache, and synthesising only the values, cut the
synthesis a call needs by more than half (docs/performance.md), as interactive voice response
systems have long done with slot prompts. Each run comes out of the synthesiser as a little
utterance of its own, with silence at both ends; played back to back they would leave a gap of
a few hundred milliseconds at every join. So each join keeps only the pause the text asks for:
a short breath between words, longer at a comma, longest at a sentence end.

The price is prosody: a fixed run ends with the pitch of a phrase end, not of a phrase that
goes on. Scripts that want whole-sentence intonation turn splicing off (`VOICEBOT_TTS_SPLICE=0`
or `splice_values=False`), at the synthesis cost that brings.
"""

from __future__ import annotations

import numpy as np

SILENCE = 400  # |sample| below this (about -38 dBFS) is the synthesiser's padding, not speech
EDGE_MS = 15   # speech onset/decay kept around the detected edges

#: Pause at a join after text ending in this punctuation (ms); between words otherwise.
PAUSE_MS = {",": 120, ";": 160, ":": 160, ".": 280, "!": 280, "?": 280}
WORD_GAP_MS = 30


def join_pause_ms(text_before: str) -> int:
    """How long a pause the text asks for after `text_before` (the run before a join)."""
    return PAUSE_MS.get(text_before.rstrip()[-1:], WORD_GAP_MS)


def trim(pcm: bytes, rate: int, *, start: bool, end: bool) -> bytes:
    """16-bit mono PCM without the synthesiser's silence at the chosen ends (a run's outer
    ends keep theirs: the sentence's own start and end sound as they always did)."""
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= SILENCE)
    if not len(loud):
        return pcm
    edge = rate * EDGE_MS // 1000
    first = max(0, loud[0] - edge) if start else 0
    last = min(len(samples), loud[-1] + 1 + edge) if end else len(samples)
    return samples[first:last].tobytes()


def pause(ms: int, rate: int) -> bytes:
    """Digital silence of `ms` at `rate`, 16-bit mono."""
    return bytes(2 * (rate * ms // 1000))

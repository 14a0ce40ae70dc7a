"""When the piece being synthesised must be ready, for the earliest-deadline-first inference
threads (`voicebot.services.deadline_executor`) that all calls share.

A reply's first piece is due at once; a later one once the audio before it has played (the
transport sends it a little ahead of playback, so this is about when the caller needs it), less
a margin for the synthesis itself.
"""

from __future__ import annotations

from voicebot.services import deadline_executor

DEADLINE_MARGIN_S = 1.0  # a later piece is synthesised this long before its audio is due


class UtteranceClock:
    def __init__(self) -> None:
        self._started, self._handed_out_s = 0.0, 0.0

    def start(self) -> None:
        """A new utterance begins now; none of its audio is out yet."""
        self._started, self._handed_out_s = deadline_executor.now(), 0.0

    def handed_out(self, pcm: bytes, rate: int) -> None:
        """`pcm` (16-bit mono at `rate`) went to the transport."""
        self._handed_out_s = self._handed_out_s + len(pcm) / 2 / rate

    def deadline(self) -> float:
        return self._started + max(0.0, self._handed_out_s - DEADLINE_MARGIN_S)

"""One piece of text through the voice's engine, at the call's rate.

Each piece is resampled in one go with pipecat's file resampler (`create_file_resampler`). A
piece is a whole sentence with silence at both ends, so nothing is lost at its edges, unlike
pipecat's stream resampler, which keeps filter state between chunks, is tied to one input rate
and drops that state after 0.2 s idle. Whole-piece resampling also makes a render deterministic
for a given synthesis, which the prompt cache relies on.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable

from pipecat.audio.utils import create_file_resampler

from voicebot.services import stats_log
from voicebot.services.catalogue_tts.utterance_clock import UtteranceClock

#: the engine: (text, deadline) -> (16-bit mono PCM, its sample rate), one item per sentence
EnginePiece = Callable[[str, float], AsyncIterator[tuple[bytes, int]]]


class Synthesis:
    def __init__(self, voice_id: str, engine: EnginePiece, clock: UtteranceClock):
        self._voice_id = voice_id
        self._engine = engine
        self._clock = clock
        self._file_resampler = create_file_resampler()

    async def pcm(self, piece: str, rate: int, fixed: bool = False,
                  deadline: float | None = None) -> AsyncIterator[bytes]:
        """The piece's PCM at `rate`, sentence by sentence; due at `deadline`, else when the
        utterance's clock says.  `fixed`: script text (the stats tell the two apart)."""
        started = time.perf_counter()
        deadline = self._clock.deadline() if deadline is None else deadline
        async for pcm, source_rate in self._engine(piece, deadline):
            out = await self._file_resampler.resample(pcm, source_rate, rate)
            if stats_log.enabled():  # synthesis time per piece, for benchmarks' TTS RTF
                stats_log.record("tts", voice=self._voice_id, audio_s=len(out) / 2 / rate,
                                 synth_s=time.perf_counter() - started, fixed=fixed)
            yield out
            started = time.perf_counter()

    async def whole(self, piece: str, rate: int, deadline: float | None = None) -> bytes:
        return b"".join([seg async for seg in self.pcm(piece, rate, deadline=deadline)])

    def note_cached(self, segments: Iterable[bytes], rate: int) -> None:
        """Audio replayed instead of synthesised, for the stats log."""
        if stats_log.enabled():  # how much speech the cache saved synthesising
            stats_log.record("tts_cached", voice=self._voice_id,
                             audio_s=sum(len(s) for s in segments) / 2 / rate)

"""The scripted debtor: what the simulated carrier plays into the call, and when.

It behaves like a person on the phone: waits for the bot to finish (or barges in a set time
into the bot's speech), pauses, says its next line, and goes quiet.  It also measures turn
latency the way a caller perceives it: from the last voiced sample of its line to the first
bot audio that reaches the carrier.  Time is carrier *audio* time, so runs faster than real
time measure the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

QUIET_BEFORE_REPLY_S = 0.5   # the debtor answers this long after the bot goes quiet
VOICED_RMS = 300.0           # int16 RMS above which a 10 ms window counts as voiced


@dataclass
class DebtorLine:
    text: str
    audio: np.ndarray | None = None      # int16 mono at the carrier rate; None: stay silent
    barge_in_after_s: float | None = None  # start this long after the bot starts speaking
    hangup: bool = False
    dtmf: str | None = None                # press this keypad key instead of speaking

    @property
    def speech_end_s(self) -> float:
        """Offset of the last voiced 10 ms window: where a listener hears the line end."""
        if self.audio is None or not len(self.audio):
            return 0.0
        return last_voiced_s(self.audio, self.sample_rate)

    sample_rate: int = 8000
    at_s: float | None = None   # said at this time after answer, without waiting for the bot
    machine: bool = False       # an answering machine's greeting: it records the bot afterwards


def last_voiced_s(audio: np.ndarray, sample_rate: int) -> float:
    win = sample_rate // 100
    n = len(audio) // win
    if n == 0:
        return 0.0
    frames = audio[: n * win].astype(np.float64).reshape(n, win)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    voiced = np.nonzero(rms > VOICED_RMS)[0]
    return float((voiced[-1] + 1) * win / sample_rate) if len(voiced) else 0.0


@dataclass
class LineTiming:
    text: str
    started_s: float
    speech_end_s: float
    first_bot_audio_s: float | None = None
    bot_audio_until_s: float | None = None  # last bot audio heard while the debtor talked

    @property
    def bot_kept_talking_ms(self) -> float | None:
        """How long the bot went on after the debtor started (barge-in reaction)."""
        if self.bot_audio_until_s is None:
            return None
        return max(0.0, self.bot_audio_until_s - self.started_s) * 1000

    @property
    def latency_ms(self) -> float | None:
        if self.first_bot_audio_s is None:
            return None
        return (self.first_bot_audio_s - self.speech_end_s) * 1000


@dataclass
class ScriptedDebtor:
    lines: list[DebtorLine]
    sample_rate: int = 8000
    timings: list[LineTiming] = field(default_factory=list)
    hung_up: bool = False
    _index: int = 0
    _playing: np.ndarray | None = None
    _pos: int = 0
    _bot_last_audio_s: float = -1.0
    _bot_started_s: float | None = None
    _bot_spoke_since_line: bool = False
    _measuring: LineTiming | None = None
    pending_dtmf: list[str] = field(default_factory=list)
    _last_line_end_s: float = 0.0
    _record_from_s: float | None = None   # an answering machine records the bot from here
    recorded: list[np.ndarray] = field(default_factory=list)

    @property
    def recorded_audio(self) -> np.ndarray:
        """What an answering machine recorded of the bot (int16 at the carrier rate)."""
        return np.concatenate(self.recorded) if self.recorded else np.zeros(0, dtype=np.int16)

    # -- fed by the carrier's output side ----------------------------------------------------
    def bot_audio(self, start_s: float, end_s: float) -> None:
        if self._bot_started_s is None or start_s - self._bot_last_audio_s > 0.2:
            self._bot_started_s = start_s
        self._bot_last_audio_s = end_s
        if self._playing is not None and self.timings:
            self.timings[-1].bot_audio_until_s = end_s
        elif start_s >= self._last_line_end_s:
            self._bot_spoke_since_line = True  # a reply to our line, not the tail of an old prompt
        if self._measuring is not None and self._playing is None:
            self._measuring.first_bot_audio_s = start_s
            self._measuring = None

    def bot_pcm(self, pcm: np.ndarray, start_s: float) -> None:
        """Bot audio as played; kept once a machine's greeting (and beep) is over."""
        if self._record_from_s is not None and start_s >= self._record_from_s:
            self.recorded.append(np.asarray(pcm, dtype=np.int16))

    # -- pulled by the carrier's input side, one chunk per tick ------------------------------
    def next_chunk(self, now_s: float, samples: int) -> bytes:
        if self._playing is None and not self.hung_up:
            self._maybe_start(now_s)
        if self._playing is None:
            return b"\x00\x00" * samples
        chunk = self._playing[self._pos:self._pos + samples]
        self._pos += samples
        if self._pos >= len(self._playing):
            self._playing = None
        if len(chunk) < samples:
            chunk = np.concatenate([chunk, np.zeros(samples - len(chunk), dtype=np.int16)])
        return chunk.astype("<i2").tobytes()

    def _bot_quiet_for(self, now_s: float) -> float:
        return now_s - self._bot_last_audio_s

    def _maybe_start(self, now_s: float) -> None:
        if self._index >= len(self.lines):
            return
        line = self.lines[self._index]
        bot_speaking = self._bot_quiet_for(now_s) < 0.1 and self._bot_started_s is not None
        if line.at_s is not None:
            ready = now_s >= line.at_s
        elif line.barge_in_after_s is not None:
            # Barge into a bot utterance that began after our previous line, not the old one.
            fresh = self._bot_started_s is not None and self._bot_started_s >= self._last_line_end_s
            ready = bot_speaking and fresh and now_s - self._bot_started_s >= line.barge_in_after_s
        else:
            ready = self._bot_spoke_since_line and self._bot_quiet_for(now_s) >= QUIET_BEFORE_REPLY_S
        if not ready:
            return
        self._index += 1
        self._bot_spoke_since_line = False
        if line.hangup:
            self.hung_up = True
            return
        if line.dtmf:
            self.pending_dtmf.append(line.dtmf)
            return
        if line.audio is None:
            return  # a silent turn: the next line waits for the bot to speak again
        self._playing, self._pos = line.audio, 0
        if line.machine:
            self._record_from_s = now_s + len(line.audio) / self.sample_rate
        self._last_line_end_s = now_s + len(line.audio) / self.sample_rate
        timing = LineTiming(line.text, now_s, now_s + line.speech_end_s)
        self.timings.append(timing)
        # Latency is only meaningful if the bot is quiet when the debtor's words end.
        self._measuring = timing if line.barge_in_after_s is None else None

    @property
    def finished(self) -> bool:
        return self._index >= len(self.lines) and self._playing is None

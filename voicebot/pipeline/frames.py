"""Frames this engine adds to pipecat's: what the dialogue decided, for transports and records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import DataFrame, SystemFrame


@dataclass
class CallActionFrame(DataFrame):
    """An action of the script (transfer, hangup, sms, callback) for the telephony edge.

    Uninterruptible: a transfer decided before the debtor barged in must still happen."""

    action: dict[str, Any] = field(default_factory=dict)
    interruptible: bool = field(default=False, init=False)


@dataclass
class TurnTimingFrame(SystemFrame):
    """Latency of one debtor turn, measured when the reply's first audio left the pipeline."""

    turn_index: int = 0
    timings: dict[str, float] = field(default_factory=dict)

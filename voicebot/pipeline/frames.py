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


@dataclass
class HandoffDecisionFrame(DataFrame):
    """Whether an agent took an escalated call, for the carrier edge: a claimed call is
    transferred (to the agent's endpoint if one was given), an unclaimed one is not."""

    claimed: bool = False
    agent_id: str | None = None
    endpoint: str | None = None
    interruptible: bool = field(default=False, init=False)


@dataclass
class AmdVerdictFrame(SystemFrame):
    """Who answered, once the bot may act on it (voicebot.pipeline.amd_processor).

    human/unknown: the dialogue opens now.  machine: the greeting (and its beep) is over, leave
    the message if `leave_message`, else hang up.  fax: hang up.  Times are audio seconds
    after answer."""

    verdict: str = "unknown"
    reason: str = ""
    decided_at_s: float = 0.0
    message_at_s: float | None = None
    beep_at_s: float | None = None
    leave_message: bool = False


@dataclass
class AudioClockFrame(SystemFrame):
    """`seconds` more of the debtor's line went by (voicebot.recording.stereo): the dialogue's
    silence clock, which must be the audio's because a simulation may run faster than real time."""

    seconds: float = 0.0


@dataclass
class PrefetchSpeechFrame(SystemFrame):
    """Replies the dialogue may say next (`StagePolicy.likely_first_prompts`): the TTS renders
    their personal values while the debtor talks (voicebot/services/piper/call_values.py)."""

    texts: list[str] = field(default_factory=list)

"""Frames this engine adds to pipecat's: what the dialogue decided, for transports and records;
what the VAD, the recogniser and the dialogue tell one another about the debtor's turn.

One module at the bottom of `voicebot` (it imports only pipecat): the pipeline, services, audio
and recording all send or receive these, so none of them may own them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import DataFrame, SystemFrame, TTSSpeakFrame

STATIC_PROMPT = "static_prompt"  # TTSSpeakFrame.metadata flag: cache this text's audio


def static_speak_frame(text: str, **kwargs: Any) -> TTSSpeakFrame:
    """A TTSSpeakFrame whose text is fixed script text, so its audio may be cached and replayed
    (voicebot/services/catalogue_tts/service.py)."""
    frame = TTSSpeakFrame(text, **kwargs)
    frame.metadata[STATIC_PROMPT] = True
    return frame


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
    their personal values while the debtor talks (voicebot/services/catalogue_tts/call_values.py)."""

    texts: list[str] = field(default_factory=list)


@dataclass
class UserPausedFrame(SystemFrame):
    """The debtor, mid-turn, has been silent for `pause_secs`: the turn may be ending
    (voicebot/audio/vad/pause.py).

    A system frame, like the audio and VAD frames it sits between, so it keeps their order."""

    pause_secs: float = 0.0
    pause_id: int = 0  # which pause of the stream (numbered by the VAD processor)


@dataclass
class PauseTranscriptFrame(SystemFrame):
    """Upstream, from a recogniser that decoded the turn so far at pause `pause_id`: what it
    heard, for an end of turn that listens to the words (`text_turn.TextTurnVADProcessor`)."""

    text: str = ""
    pause_id: int = 0


@dataclass
class TurnContinuedFrame(SystemFrame):
    """Upstream, from the dialogue: the debtor went on speaking just after a turn was taken as
    ended, so the turn was ended too early; an end of turn that can wait longer
    (`text_turn.TextTurnVADProcessor`) does so for the rest of the call."""

"""What the voice loop needs to know about handing a call to a person, and nothing more.

The dialogue decides to transfer; whoever runs the call (the media-stream server, with its
agent queue on the live bus) decides whether a person is there to take it.  That decision is
an async function given to the DialogueProcessor, so the pipeline holds the line while it
waits without knowing about buses, queues or carriers, and a call without one (the offline
simulator) ends on the transfer words as before.  The answer, a HandoffDecision, is the
queue's contract (telephony/handoff/decision.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telephony.handoff.decision import HandoffDecision

if TYPE_CHECKING:
    from dialogue.session import CallSession, TurnRecord


#: Called with the session, the transfer action and a `words_played()` coroutine function as
#: soon as the transfer words are queued: the packet can go out at once, while the wait for an
#: agent is counted from when the caller has heard the words (their hold starts then).
Escalate = Callable[["CallSession", dict[str, Any], Callable[[], Awaitable[None]]], Awaitable[HandoffDecision]]


def transfer_of(turn: "TurnRecord") -> dict[str, Any] | None:
    """The turn's transfer action, if it has one."""
    return next((a for a in turn.actions if a.get("kind") == "transfer"), None)

"""The agent queue's answer to a transfer, as the voice loop receives it: the handoff contract
between the pipeline (voicebot/pipeline/handoff.py, which waits for it) and the queue
(live_call.py, which gives it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HandoffDecision:
    """`claimed`: an agent took the call (transfer it, to `endpoint` when the desk gave one).
    Otherwise nobody did within the wait, and the dialogue goes on to take a callback time."""

    claimed: bool
    agent_id: str | None = None
    endpoint: str | None = None
    waited_s: float = 0.0

"""Human handoff: the context packet, the agent queue on the live bus, claim-once semantics.

Server: each call gets a `QueueEscalation(bus, timeout_s)` (live_call.py), the function the
voice loop holds on after a transfer: claimed → the carrier transfers the call (to the
desk's endpoint or the queue's line); unclaimed → the dialogue reopens at the stage's
`no_agent` node for a callback time, which `finish` stores on the packet.  Its answer, a
HandoffDecision (decision.py), is the contract with the pipeline (voicebot/pipeline/handoff.py).
With `QueueEscalation(bus, timeout_s, outbox)`, a packet the bus cannot take (Redis down) waits
in a HandoffOutbox (outbox.py) on local disk and is filed in the queue once the bus answers.

Agent desk: `q = HandoffQueue(bus, "collections")`; `await q.entries("waiting")`;
`attempt = await q.claim(call_id, agent_id)`; `attempt.won` is True for exactly one agent.
"""

from telephony.handoff.decision import HandoffDecision
from telephony.handoff.packet import (DEFAULT_QUEUE, HandoffPacket, TranscriptLine, build_packet,
                                      find_transfer, mask_phone)
from telephony.handoff.queue import (CALLBACK_NODE, ClaimAttempt, Claimed, HandoffQueue, PacketState,
                                     QueueEntry, Unclaimed, UnknownHandoff, WaitResult, escalate)

__all__ = ["DEFAULT_QUEUE", "HandoffPacket", "TranscriptLine", "build_packet", "find_transfer", "mask_phone",
           "HandoffDecision",
           "CALLBACK_NODE", "ClaimAttempt", "Claimed", "HandoffQueue", "PacketState", "QueueEntry",
           "Unclaimed", "UnknownHandoff", "WaitResult", "escalate"]

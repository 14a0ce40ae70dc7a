"""Human handoff: the context packet, the agent queue on the live bus, claim-once semantics.

Server, on a turn whose actions hold {"kind": "transfer", ...}:

    packet, result = await escalate(bus, session, action, timeout=30)
    if isinstance(result, Claimed): transfer the call (to result.endpoint or the agent line)
    else: ask for a callback time (result.callback_node), close politely, and
          `await HandoffQueue(bus, packet.queue).record_callback(call_id, when)`

Agent desk: `q = HandoffQueue(bus, "collections")`; `await q.entries("waiting")`;
`attempt = await q.claim(call_id, agent_id)`; `attempt.won` is True for exactly one agent.
"""

from telephony.handoff.packet import (DEFAULT_QUEUE, HandoffPacket, TranscriptLine, build_packet,
                                      find_transfer, mask_phone)
from telephony.handoff.queue import (CALLBACK_NODE, ClaimAttempt, Claimed, HandoffQueue, PacketState,
                                     QueueEntry, Unclaimed, UnknownHandoff, WaitResult, escalate)

__all__ = ["DEFAULT_QUEUE", "HandoffPacket", "TranscriptLine", "build_packet", "find_transfer", "mask_phone",
           "CALLBACK_NODE", "ClaimAttempt", "Claimed", "HandoffQueue", "PacketState", "QueueEntry",
           "Unclaimed", "UnknownHandoff", "WaitResult", "escalate"]

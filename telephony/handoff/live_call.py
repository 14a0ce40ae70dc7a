"""The agent queue seen from a live call: the `escalate` function the voice loop holds on.

The server gives one of these to every call.  On a transfer it queues the context packet on
the bus and waits (bounded) for a desk to claim it; the answer goes back to the pipeline as a
HandoffDecision.  If the debtor hangs up while on hold, the wait is cancelled and the packet is
marked abandoned, so no agent picks up a dead line.  At the end of the call, a callback time
the debtor gave after an unclaimed handoff is written onto the packet for follow-up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from loguru import logger

from telephony.bus.base import Bus
from telephony.handoff.decision import HandoffDecision
from telephony.handoff.packet import build_packet
from telephony.handoff.queue import Claimed, HandoffQueue

if TYPE_CHECKING:
    from dialogue.session import CallSession

ABANDON_WAIT_S = 2.0


class QueueEscalation:
    """`await escalation(session, action)` → HandoffDecision; one per call."""

    def __init__(self, bus: Bus, timeout_s: float):
        self.bus, self.timeout_s = bus, timeout_s
        self.queued: list[tuple[str, str]] = []  # (queue, call id) of packets this call submitted

    async def __call__(self, session: "CallSession", action: dict[str, Any],
                       words_played: Callable[[], Awaitable[None]] | None = None) -> HandoffDecision:
        packet = build_packet(session, action)
        queue = HandoffQueue(self.bus, packet.queue)
        try:
            await queue.submit(packet)  # desks see it while the bot is still saying the words
            self.queued.append((packet.queue, packet.call_id))
            session.note("handoff_queued", queue=packet.queue, reason=packet.reason, timeout_s=self.timeout_s)
            if words_played is not None:
                await words_played()
            result = await queue.wait_for_claim(packet.call_id, self.timeout_s)
        except asyncio.CancelledError:
            # The caller left the hold: decide the packet as abandoned before anyone claims it.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(queue.abandon(packet.call_id)), ABANDON_WAIT_S)
            raise
        except Exception as exc:  # a dead bus must not leave the debtor on hold forever
            logger.error(f"call {session.call_id}: agent queue failed, no handoff: {exc}")
            return HandoffDecision(claimed=False)
        if isinstance(result, Claimed):
            return HandoffDecision(True, result.agent_id, result.endpoint)
        return HandoffDecision(False, waited_s=result.waited_s)

    async def finish(self, session: "CallSession") -> None:
        """Keep the callback time an unclaimed call took on its packet (for the follow-up)."""
        when = session.policy.state.slots.get("callback_time")
        if session.policy.state.handoff != "unclaimed" or not when:
            return
        for queue_name, call_id in self.queued:
            try:
                await HandoffQueue(self.bus, queue_name).record_callback(call_id, str(when))
            except Exception as exc:
                logger.warning(f"call {call_id}: could not store the callback time: {exc}")

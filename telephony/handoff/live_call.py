"""The agent queue seen from a live call: the `escalate` function the voice loop holds on.

The server gives one of these to every call.  On a transfer it queues the context packet on
the bus and waits (bounded) for a desk to claim it; the answer goes back to the pipeline as a
HandoffDecision.  If the debtor hangs up while on hold, the wait is cancelled and the packet is
marked abandoned, so no agent picks up a dead line.  At the end of the call, a callback time
the debtor gave after an unclaimed handoff is written onto the packet for follow-up.

When the bus fails (Redis down), the debtor is not kept on hold for an agent nobody can ask:
the answer is unclaimed at once (the bot takes a callback time), and the packet, decided, goes
to the server's outbox on local disk (outbox.py), which files it in the queue when the bus is
back.  So does a decision or callback time the bus could not take.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from loguru import logger

from telephony.bus.base import Bus
from telephony.handoff.decision import HandoffDecision
from telephony.handoff.outbox import HandoffOutbox
from telephony.handoff.packet import HandoffPacket, build_packet
from telephony.handoff.queue import Claimed, HandoffQueue, PacketState

if TYPE_CHECKING:
    from dialogue.session import CallSession

ABANDON_WAIT_S = 2.0


class QueueEscalation:
    """`await escalation(session, action)` → HandoffDecision; one per call."""

    def __init__(self, bus: Bus, timeout_s: float, outbox: HandoffOutbox | None = None):
        """`outbox`: where packets go while the bus cannot take them (None: they are lost,
        and logged as errors)."""
        self.bus, self.timeout_s, self.outbox = bus, timeout_s, outbox
        self.packets: dict[str, HandoffPacket] = {}  # this call's packets, by call id

    async def __call__(self, session: "CallSession", action: dict[str, Any],
                       words_played: Callable[[], Awaitable[None]] | None = None) -> HandoffDecision:
        packet = build_packet(session, action)
        self.packets[packet.call_id] = packet
        queue = HandoffQueue(self.bus, packet.queue)
        started = time.monotonic()
        try:
            await queue.submit(packet)  # desks see it while the bot is still saying the words
            session.note("handoff_queued", queue=packet.queue, reason=packet.reason, timeout_s=self.timeout_s)
            if words_played is not None:
                await words_played()
            result = await queue.wait_for_claim(packet.call_id, self.timeout_s)
        except asyncio.CancelledError:
            # The caller left the hold: decide the packet as abandoned before anyone claims it.
            try:
                await asyncio.wait_for(asyncio.shield(queue.abandon(packet.call_id)), ABANDON_WAIT_S)
            except Exception as exc:  # noqa: BLE001 - the bus is away (or never had the packet)
                self._keep(session, packet, PacketState.ABANDONED, time.monotonic() - started, exc)
            raise
        except Exception as exc:  # a dead bus must not leave the debtor on hold forever
            waited = time.monotonic() - started
            self._keep(session, packet, PacketState.UNCLAIMED, waited, exc)
            return HandoffDecision(claimed=False, waited_s=round(waited, 3))
        if isinstance(result, Claimed):
            return HandoffDecision(True, result.agent_id, result.endpoint)
        return HandoffDecision(False, waited_s=result.waited_s)

    def _keep(self, session: "CallSession", packet: HandoffPacket, state: PacketState, waited_s: float,
              error: BaseException) -> bool:
        """The bus failed the handoff: the packet, decided, to the outbox for later filing."""
        if self.outbox is None:
            logger.error(f"call {packet.call_id}: agent queue failed, no handoff: {error}")
            return False
        try:
            self.outbox.keep(packet, state, waited_s)
        except OSError as exc:
            logger.critical(f"HANDOFF LOST: call {packet.call_id} (account {packet.account_id}): the agent "
                            f"queue failed ({error}) and the outbox {self.outbox.path} refused it: {exc}")
            return False
        logger.error(f"call {packet.call_id}: agent queue failed ({error}); the packet is kept in "
                     f"{self.outbox.path} and filed as {state.value} when the bus answers")
        with contextlib.suppress(ValueError):  # the call record may be closed (a hang-up on hold)
            session.note("handoff_kept", queue=packet.queue, state=state.value, error=str(error))
        self.outbox.start_delivering(self.bus)
        return True

    async def finish(self, session: "CallSession") -> None:
        """Keep the callback time an unclaimed call took on its packet (for the follow-up)."""
        when = session.policy.state.slots.get("callback_time")
        if session.policy.state.handoff != "unclaimed" or not when:
            return
        for call_id, packet in self.packets.items():
            if self.outbox is not None and self._callback_in_outbox(call_id, str(when)):
                continue  # not filed yet: the outbox's copy takes the time
            with_time = packet.model_copy(update={"callback_time": str(when)})
            try:
                await HandoffQueue(self.bus, packet.queue).record_callback(call_id, str(when))
            except Exception as exc:
                if not self._keep(session, with_time, PacketState.UNCLAIMED, 0.0, exc):
                    logger.warning(f"call {call_id}: could not store the callback time: {exc}")

    def _callback_in_outbox(self, call_id: str, when: str) -> bool:
        assert self.outbox is not None
        try:
            if not self.outbox.add_callback(call_id, when):
                return False
        except OSError as exc:
            logger.critical(f"CALLBACK TIME LOST: call {call_id}: the outbox {self.outbox.path} refused it: {exc}")
            return True
        self.outbox.start_delivering(self.bus)  # no-op while a delivery is under way
        return True

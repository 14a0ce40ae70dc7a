"""The agent queue: packets stored on the bus, claimed once, and what the waiting call learns.

Who decides a packet's fate is a single `claim_once` key per call.  An agent's claim, the
call giving up after its wait, and the debtor hanging up all race for that one key, so exactly
one of them wins, on one machine or across many through Redis, and every party reads the same
answer afterwards.  Packets are records, not only messages: a desk that starts late, a second
process or a restarted server lists them from the bus; pub/sub events only wake waiters and
desks up early (a missed event costs a poll interval, never a wrong answer).

States: waiting (no decision yet) -> claimed (an agent took it) | unclaimed (nobody took it
in time: the bot takes a callback time, the packet stays for follow-up) | abandoned (the
debtor hung up first).  Packets stay stored until `remove` (after follow-up) or, once decided,
until the retention purge (`telephony/handoff/retention.py`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from telephony.bus.base import Bus
from telephony.handoff.packet import DEFAULT_QUEUE, HandoffPacket, build_packet

if TYPE_CHECKING:
    from dialogue.session import CallSession

#: The script node every stage has for taking a callback time; an unclaimed call goes there.
CALLBACK_NODE = "ask_callback_time"


class PacketState(StrEnum):
    WAITING = "waiting"
    CLAIMED = "claimed"
    UNCLAIMED = "unclaimed"
    ABANDONED = "abandoned"


class UnknownHandoff(KeyError):
    """No packet for this call id in this queue."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown handoff"


class Claimed(BaseModel):
    """An agent took the call: transfer it (to `endpoint` if the desk gave one, else to the
    queue's line)."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    agent_id: str
    claimed_at: AwareDatetime
    endpoint: str | None = None


class Unclaimed(BaseModel):
    """Nobody took the call (or the debtor left): ask for a callback time and close politely."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    reason: Literal["no_agent", "abandoned"]
    waited_s: float
    callback_node: str = CALLBACK_NODE


WaitResult = Claimed | Unclaimed


class QueueEntry(BaseModel):
    """A stored packet and where it stands."""

    model_config = ConfigDict(frozen=True)

    packet: HandoffPacket
    state: PacketState
    decided_at: AwareDatetime | None = None
    claimed_by: str | None = None
    endpoint: str | None = None

    @property
    def call_id(self) -> str:
        return self.packet.call_id


class ClaimAttempt(BaseModel):
    """An agent's claim: `won` for exactly one claimant; `entry` says who has it otherwise."""

    model_config = ConfigDict(frozen=True)

    won: bool
    entry: QueueEntry


def _utcnow() -> datetime:
    return datetime.now(UTC)


class HandoffQueue:
    """One named agent queue (the script's transfer `queue`, "collections" by default) on a bus.

    Call side:  `await q.submit(packet)`, then `await q.wait_for_claim(call_id, timeout)`
                (or `escalate(...)` below, which does both); `abandon` on hang-up.
    Desk side:  `await q.entries(PacketState.WAITING)`, `await q.claim(call_id, agent_id)`;
                subscribe to `q.channel` for "handoff.waiting/claimed/unclaimed/abandoned".
    """

    def __init__(self, bus: Bus, name: str = DEFAULT_QUEUE, *,
                 now: Callable[[], datetime] = _utcnow):
        if not name or any(ch.isspace() for ch in name):
            raise ValueError(f"bad queue name {name!r}")
        self.bus, self.name, self._now = bus, name, now
        self.channel = f"handoff:{name}"
        self._collection = f"handoff:{name}"

    def _claim_key(self, call_id: str) -> str:
        return f"handoff:{self.name}:decision:{call_id}"

    # -- reading --------------------------------------------------------------------------
    @staticmethod
    def _entry(packet: HandoffPacket, marker: str | None) -> QueueEntry:
        if marker is None:
            return QueueEntry(packet=packet, state=PacketState.WAITING)
        decision = json.loads(marker)
        return QueueEntry(packet=packet, state=PacketState(decision["state"]), decided_at=decision["at"],
                          claimed_by=decision.get("by"), endpoint=decision.get("endpoint"))

    async def _packet(self, call_id: str) -> HandoffPacket:
        raw = await self.bus.get_record(self._collection, call_id)
        if raw is None:
            raise UnknownHandoff(f"no handoff packet for call {call_id!r} in queue {self.name!r}")
        return HandoffPacket.model_validate_json(raw)

    async def get(self, call_id: str) -> QueueEntry:
        packet = await self._packet(call_id)
        return self._entry(packet, await self.bus.read_claim(self._claim_key(call_id)))

    async def entries(self, state: PacketState | str | None = None) -> list[QueueEntry]:
        """Stored packets, oldest first; only those in `state` if given."""
        raw = await self.bus.records(self._collection)
        ids = sorted(raw)
        markers = await self.bus.read_claims([self._claim_key(i) for i in ids])
        entries = [self._entry(HandoffPacket.model_validate_json(raw[i]), m) for i, m in zip(ids, markers)]
        if state is not None:
            entries = [e for e in entries if e.state == PacketState(state)]
        return sorted(entries, key=lambda e: (e.packet.created_at, e.call_id))

    # -- deciding (all through the one claim key) ------------------------------------------
    async def _decide(self, call_id: str, state: PacketState, **detail: Any) -> tuple[bool, QueueEntry]:
        packet = await self._packet(call_id)
        marker = json.dumps({"state": state.value, "at": self._now().isoformat(), **detail})
        won = await self.bus.claim_once(self._claim_key(call_id), marker)
        entry = self._entry(packet, marker if won else await self.bus.read_claim(self._claim_key(call_id)))
        if won:
            await self.bus.publish(self.channel, {"type": f"handoff.{state.value}", "call_id": call_id,
                                                  "queue": self.name, **detail})
        return won, entry

    async def submit(self, packet: HandoffPacket) -> QueueEntry:
        """Store the packet, then announce it.  Stored first, so anyone who hears the event
        can read it; resubmitting a still-waiting call replaces its packet."""
        if packet.queue != self.name:
            raise ValueError(f"packet for queue {packet.queue!r} submitted to queue {self.name!r}")
        marker = await self.bus.read_claim(self._claim_key(packet.call_id))
        if marker is not None:
            state = json.loads(marker)["state"]
            raise ValueError(f"call {packet.call_id!r} was already handed off and is {state}")
        await self.bus.put_record(self._collection, packet.call_id, packet.model_dump_json())
        await self.bus.publish(self.channel, {"type": "handoff.waiting", "call_id": packet.call_id,
                                              "queue": self.name, "packet": packet.model_dump(mode="json")})
        return QueueEntry(packet=packet, state=PacketState.WAITING)

    async def file_decided(self, packet: HandoffPacket, state: PacketState, **detail: Any) -> QueueEntry:
        """Store a packet whose fate was settled while the queue could not be reached (the
        call went on without it: telephony/handoff/outbox.py).  Decided first, then stored, so
        no desk is ever offered a call that has ended; a decision already taken (an agent's
        claim before the bus went away) stands.  Idempotent."""
        if packet.queue != self.name:
            raise ValueError(f"packet for queue {packet.queue!r} filed in queue {self.name!r}")
        if state is PacketState.WAITING:
            raise ValueError("a packet filed late is decided: unclaimed, abandoned or claimed")
        marker = json.dumps({"state": state.value, "at": self._now().isoformat(), **detail})
        won = await self.bus.claim_once(self._claim_key(packet.call_id), marker)
        await self.bus.put_record(self._collection, packet.call_id, packet.model_dump_json())
        if won:
            await self.bus.publish(self.channel, {"type": f"handoff.{state.value}", "call_id": packet.call_id,
                                                  "queue": self.name, "filed_late": True, **detail})
        return self._entry(packet, marker if won else await self.bus.read_claim(self._claim_key(packet.call_id)))

    async def claim(self, call_id: str, agent_id: str, *, endpoint: str | None = None) -> ClaimAttempt:
        """An agent takes a call.  Exactly one of any number of racing agents wins; a claim
        after the call gave up or hung up loses too (the entry says which)."""
        if not agent_id:
            raise ValueError("agent_id must not be empty")
        detail: dict[str, Any] = {"by": agent_id}
        if endpoint:
            detail["endpoint"] = endpoint
        won, entry = await self._decide(call_id, PacketState.CLAIMED, **detail)
        return ClaimAttempt(won=won, entry=entry)

    async def abandon(self, call_id: str) -> QueueEntry:
        """The debtor hung up while waiting: no agent may take the call any more (unless one
        already did; the entry says so).  The packet stays for follow-up."""
        _, entry = await self._decide(call_id, PacketState.ABANDONED)
        return entry

    def _result(self, entry: QueueEntry, waited_s: float) -> WaitResult:
        if entry.state is PacketState.CLAIMED:
            assert entry.claimed_by is not None and entry.decided_at is not None
            return Claimed(call_id=entry.call_id, agent_id=entry.claimed_by, claimed_at=entry.decided_at,
                           endpoint=entry.endpoint)
        reason = "abandoned" if entry.state is PacketState.ABANDONED else "no_agent"
        return Unclaimed(call_id=entry.call_id, reason=reason, waited_s=round(waited_s, 3))

    async def wait_for_claim(self, call_id: str, timeout: float, *, poll_s: float = 0.5) -> WaitResult:
        """Wait up to `timeout` seconds for an agent.  `Claimed` if one took the call; else the
        call itself takes the decision as unclaimed and gets `Unclaimed` (an agent racing at
        the last moment either wins before it, and the call is transferred, or loses)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + max(0.0, timeout)
        key = self._claim_key(call_id)
        async with self.bus.subscribe(self.channel) as events:
            await self._packet(call_id)  # unknown call: fail now, not after the timeout
            while True:
                marker = await self.bus.read_claim(key)
                if marker is not None:
                    return self._result(self._entry(await self._packet(call_id), marker),
                                        loop.time() - started)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                # Wake on an event about this call, or poll: the claim key is the truth.
                slice_end = loop.time() + min(remaining, poll_s)
                while (left := slice_end - loop.time()) > 0:
                    event = await events.get(timeout=left)
                    if event is None or event.get("call_id") == call_id:
                        break
        waited = loop.time() - started
        _, entry = await self._decide(call_id, PacketState.UNCLAIMED, waited_s=round(waited, 3))
        return self._result(entry, waited)

    # -- follow-up ------------------------------------------------------------------------
    async def record_callback(self, call_id: str, when: str) -> QueueEntry:
        """Keep the callback time the debtor gave after an unclaimed handoff on the packet."""
        packet = (await self._packet(call_id)).model_copy(update={"callback_time": when})
        await self.bus.put_record(self._collection, call_id, packet.model_dump_json())
        return self._entry(packet, await self.bus.read_claim(self._claim_key(call_id)))

    async def remove(self, call_id: str) -> bool:
        """Forget a packet once it has been followed up (its call record keeps the history)."""
        removed = await self.bus.delete_record(self._collection, call_id)
        await self.bus.delete(self._claim_key(call_id))
        return removed


async def escalate(bus: Bus, session: "CallSession", action: dict[str, Any] | None = None, *,
                   timeout: float, now: datetime | None = None) -> tuple[HandoffPacket, WaitResult]:
    """What the server does when a turn carries a transfer action: build the packet from the
    session, queue it on the action's queue, and wait up to `timeout` s for an agent."""
    packet = build_packet(session, action, now=now)
    queue = HandoffQueue(bus, packet.queue)
    await queue.submit(packet)
    return packet, await queue.wait_for_claim(packet.call_id, timeout)

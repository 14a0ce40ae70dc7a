"""Handoff packets do not stay on the bus for ever.

A packet carries the conversation so far (the debtor's words), the debtor's name and the
account id, and on Redis it outlives every process: without a clean-up it would be kept long
after the call record it came from was purged.  `sweep_packets` removes, from every agent queue
on the bus, the packets already decided (claimed, unclaimed, abandoned) that are older than a
cut-off, or all decided packets of one account (right to erasure), through
`HandoffQueue.remove`, which drops the claim key with the packet.

A packet still waiting is never removed: its call may be on hold for an agent right now, and
removing it would make that call's wait fail.  It is counted, so the report says what was kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from telephony.bus.base import Bus
from telephony.handoff.queue import HandoffQueue, PacketState, QueueEntry

QUEUE_COLLECTION = "handoff:"  # HandoffQueue keeps queue NAME's packets in collection "handoff:NAME"


@dataclass
class PacketSweep:
    """What a sweep removed (or, in a dry run, would remove) and what it had to keep."""

    removed: list[tuple[str, str]] = field(default_factory=list)       # (queue, call id)
    kept_waiting: list[tuple[str, str]] = field(default_factory=list)  # matched, but still waiting
    queues: list[str] = field(default_factory=list)                    # the queues looked at


def _decided_before(entry: QueueEntry, cutoff: datetime) -> bool:
    return (entry.decided_at or entry.packet.created_at) < cutoff


async def queue_names(bus: Bus, extra: Iterable[str] = ()) -> list[str]:
    """Every agent queue holding packets on `bus`, plus `extra` names."""
    found = {name[len(QUEUE_COLLECTION):] for name in await bus.collections(QUEUE_COLLECTION)}
    return sorted(found | {q for q in extra if q})


async def sweep_packets(bus: Bus, *, before: datetime | None = None, account_id: str | None = None,
                        queues: Iterable[str] = (), dry_run: bool = False) -> PacketSweep:
    """Remove the decided packets decided (or, undecided, created) before `before`, or every
    decided packet of `account_id`: one or the other.  `dry_run` only counts."""
    if (before is None) == (account_id is None):
        raise ValueError("sweep_packets takes a cut-off or an account, not both")
    sweep = PacketSweep(queues=await queue_names(bus, queues))
    for name in sweep.queues:
        queue = HandoffQueue(bus, name)
        for entry in await queue.entries():
            if account_id is not None:
                if entry.packet.account_id != account_id:
                    continue
            elif not _decided_before(entry, before):  # type: ignore[arg-type]  (checked above)
                continue
            if entry.state is PacketState.WAITING:
                sweep.kept_waiting.append((name, entry.call_id))
                continue
            if not dry_run:
                await queue.remove(entry.call_id)
            sweep.removed.append((name, entry.call_id))
    return sweep

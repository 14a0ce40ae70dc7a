"""Channel names and event shapes for live calls, and an ordered publisher for one call.

The console and any monitor subscribe to `CALLS_CHANNEL` for calls starting and ending, and to
`call_channel(call_id)` for one call's turns as they happen.  `CallFeed` bridges the session's
synchronous turn listeners to the async bus through one queue and one task, so a call's events
reach the bus in the order they happened even on Redis, and a slow bus never blocks the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from telephony.bus.base import Bus, BusError, Event

if TYPE_CHECKING:
    from dialogue.session import CallSession, TurnRecord

log = logging.getLogger(__name__)

CALLS_CHANNEL = "calls"             # {"type": "call.started" | "call.ended", "call_id", ...}


def call_channel(call_id: str) -> str:
    """One call's live transcript: {"type": "call.turn", "call_id", "turn": TurnRecord dict}."""
    return f"call:{call_id}"


def started_event(session: "CallSession") -> Event:
    return {"type": "call.started", "call_id": session.call_id, "account_id": session.account.id,
            "stage": session.stage, "locale": session.scripts.locale, "attempt": session.attempt}


def turn_event(call_id: str, turn: "TurnRecord") -> Event:
    return {"type": "call.turn", "call_id": call_id, "turn": turn.to_dict()}


def ended_event(session: "CallSession") -> Event:
    return {"type": "call.ended", "call_id": session.call_id, "account_id": session.account.id,
            "result": session.result().to_dict()}


class CallFeed:
    """Publishes one call's lifecycle and turns, in order.  Use inside the call's event loop:

        feed = CallFeed(bus, session); await feed.start()   # call.started, then every turn
        ...                                                  # session.open()/hear() as usual
        await feed.end()                                     # call.ended, flushed, detached

    A bus failure is logged, not raised into the call: a live view is worth less than the call.
    A bus that failed is not asked again for `backoff_s` (the events meanwhile are dropped and
    counted: the console reads them from the records store), and `end` waits for the last
    events at most `end_wait_s`, so a stalled Redis (each publish bounded at ~10 s) neither
    piles up a call's events nor holds its end.
    """

    backoff_s = 5.0
    end_wait_s = 2.0

    def __init__(self, bus: Bus, session: "CallSession"):
        self.bus, self.session = bus, session
        self._queue: asyncio.Queue[tuple[str, Event] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.failures = 0
        self.dropped = 0
        self._quiet_until = 0.0  # loop time before which the bus is not asked again

    def _on_turn(self, turn: "TurnRecord") -> None:
        self._queue.put_nowait((call_channel(self.session.call_id), turn_event(self.session.call_id, turn)))

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while (item := await self._queue.get()) is not None:
            channel, event = item
            if loop.time() < self._quiet_until:
                self.dropped += 1
                continue
            try:
                await self.bus.publish(channel, event)
            except BusError as exc:
                self.failures += 1
                self._quiet_until = loop.time() + self.backoff_s
                log.warning("live feed of call %s: %s; events dropped for %.0f s", self.session.call_id,
                            exc, self.backoff_s)

    async def start(self, **extra: Any) -> None:
        """`extra` joins the call.started event (e.g. the carrier's call id, for the dialer
        that placed the call)."""
        event = {**started_event(self.session), **extra}
        self._queue.put_nowait((CALLS_CHANNEL, event))
        self._queue.put_nowait((call_channel(self.session.call_id), event))
        self.session.listeners.append(self._on_turn)
        self._task = asyncio.create_task(self._pump(), name=f"call-feed-{self.session.call_id}")

    async def end(self, **extra: Any) -> None:
        with contextlib.suppress(ValueError):
            self.session.listeners.remove(self._on_turn)
        event = {**ended_event(self.session), **extra}
        self._queue.put_nowait((call_channel(self.session.call_id), event))
        self._queue.put_nowait((CALLS_CHANNEL, event))
        self._queue.put_nowait(None)
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.end_wait_s)
            except asyncio.TimeoutError:
                self._task.cancel()
                self.dropped += self._queue.qsize()
                log.warning("live feed of call %s: the bus is slow; the last events are dropped",
                            self.session.call_id)

"""The live board: ongoing calls with their partial transcripts, fed by the live bus.

It listens to `CALLS_CHANNEL` for calls starting and ending and to each call's channel for its
turns (telephony.bus.live, published by `CallFeed`).  Bus events are at-most-once and a call's
channel is joined only after its start is heard, so turns missed in between are filled in
from the records store, which holds every turn already spoken: read on joining and at the
first quiet second after (the store's writer may still have been committing what was said
before), when a turn arrives whose predecessors never did, and at the call's end.  (It used to be read
every quiet second of every call: 40 calls meant 40 queries a second and 3 % of a loaded
server's CPU, docs/performance.md.)  The browser polls the board as JSON; nothing here blocks
a call.

A bus that goes away (Redis restarted, a network cut) does not stop the board: it says so
(`unavailable`), follows calls from the store alone meanwhile (calls started, turns, ends, read
every `STORE_POLL_S`), subscribes again with a growing pause, and catches up from the store once
back. Ended calls leave the board after KEEP_ENDED_S whether anyone looks or not, and it never
holds more than MAX_CALLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from telephony.bus.base import Bus, BusError
from telephony.bus.live import CALLS_CHANNEL, call_channel
from voicebot.records.models import Call, Turn
from voicebot.records.store import RecordStore

log = logging.getLogger(__name__)
KEEP_ENDED_S = 120.0
CATCH_UP_S = 1.0   # how often a quiet follower checks whether its call ended (heard elsewhere)
RECENT_S = 1800.0  # a stored call not ended after this long crashed: not shown as live
STORE_POLL_S = 2.0  # while the bus is away, how often the store is read instead
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 10.0  # pauses between attempts to subscribe again
MAX_CALLS = 2000    # ongoing and recently ended calls held at most


@dataclass
class LiveCall:
    call_id: str
    account_id: str
    stage: str
    locale: str
    started: float
    turns: dict[int, dict[str, Any]] = field(default_factory=dict)
    ended: float | None = None
    result: dict[str, Any] | None = None

    def add_turn(self, turn: dict[str, Any]) -> None:
        nlu = turn.get("nlu") or {}
        self.turns[int(turn["index"])] = {
            "index": turn["index"], "kind": turn.get("kind"), "debtor_text": turn.get("debtor_text"),
            "intent": nlu.get("intent"), "confidence": nlu.get("confidence"), "bot_text": turn.get("bot_text"),
            "actions": [a.get("kind") for a in turn.get("actions") or []]}


class LiveBoard:
    def __init__(self, bus: Bus, store: RecordStore | None = None):
        self.bus, self.store = bus, store
        self.calls: dict[str, LiveCall] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._main: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self.unavailable: str | None = None  # why the bus is not heard, while it is not

    async def start(self) -> None:
        """Start listening (idempotent); returns once subscribed to the calls channel.  Calls
        that started before (the store has them, not ended, recent) are followed too."""
        if self._main is None:
            self._main = asyncio.create_task(self._listen(), name="console-live")
            await asyncio.wait_for(self._ready.wait(), 10)
            await self._from_store()
        await asyncio.wait_for(self._ready.wait(), 10)

    async def _from_store(self) -> None:
        """Follow the calls the store has as ongoing and the board does not (started before the
        board, or while the bus was away); mark ended those the store has ended."""
        ongoing, ended = await asyncio.to_thread(self._stored_state)
        for row in ongoing:
            if row.id not in self.calls:
                await self._on_call_event({"type": "call.started", "call_id": row.id, "stage": row.stage,
                                           "account_id": row.account_id, "locale": row.locale})
        for call_id, outcome in ended.items():
            self._ended(call_id, {"outcome": outcome})

    def _stored_state(self) -> tuple[list[Call], dict[str, str | None]]:
        """(recent calls not ended, {call id: outcome} of the board's live calls that ended)."""
        if self.store is None:
            return [], {}
        since = datetime.now(UTC) - timedelta(seconds=RECENT_S)
        with self.store.session() as db:
            ongoing = list(db.scalars(select(Call).where(Call.ended_at.is_(None), Call.started_at >= since)))
        return ongoing, self._stored_ends([c for c, v in self.calls.items() if v.ended is None])

    def _stored_ends(self, call_ids: list[str]) -> dict[str, str | None]:
        """{call id: outcome} of those of `call_ids` the store has ended: the one question the
        board asks the store about ends, whether catching up after an outage or following one
        call without the bus."""
        if self.store is None or not call_ids:
            return {}
        with self.store.session() as db:
            return {row.id: row.outcome for row in db.execute(
                select(Call.id, Call.outcome).where(Call.id.in_(call_ids), Call.ended_at.is_not(None)))}

    async def stop(self) -> None:
        for task in [self._main, *self._tasks.values()]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _listen(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                async with self.bus.subscribe(CALLS_CHANNEL) as events:
                    if self.unavailable is not None:
                        log.warning("live board: the bus is back; catching up from the store")
                        self.unavailable = None
                        await self._from_store()
                    self._ready.set()
                    delay = RETRY_FIRST_S
                    async for event in events:
                        try:
                            await self._on_call_event(event)
                        except Exception:  # a malformed event must not stop the board
                            log.exception("live board: bad event %r", event)
                return  # the subscription was closed: the board is stopping
            except BusError as exc:
                if self.unavailable is None:
                    log.error("live board: %s; following calls from the store until it is back", exc)
                self.unavailable = str(exc)
                self._ready.set()  # the board works, from the store
            await self._store_only(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def _store_only(self, seconds: float) -> None:
        """The bus is away: the store is what the board knows for `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                await self._from_store()
            except Exception:  # the store away too: nothing to show but what is there
                log.exception("live board: the store cannot be read either")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, STORE_POLL_S))

    async def _on_call_event(self, event: dict[str, Any]) -> None:
        call_id = str(event.get("call_id"))
        self._prune()
        if event.get("type") == "call.started":
            if call_id in self.calls:
                return  # heard from the store and the bus both
            self.calls[call_id] = LiveCall(call_id, str(event.get("account_id")), str(event.get("stage")),
                                           str(event.get("locale")), time.time())
            self._tasks[call_id] = asyncio.create_task(self._follow(call_id), name=f"console-live-{call_id}")
        elif event.get("type") == "call.ended":
            self._ended(call_id, event.get("result"))  # its follower reads its last turns, then stops

    def _ended(self, call_id: str, result: dict[str, Any] | None) -> None:
        call = self.calls.get(call_id)
        if call is not None and call.ended is None:
            call.ended, call.result = time.time(), result

    async def _follow(self, call_id: str) -> None:
        try:
            await self._follow_on_bus(call_id)
        except BusError as exc:  # the bus went away: the store tells how the call goes on
            log.warning("live board: call %s followed from the store: %s", call_id, exc)
            await self._follow_in_store(call_id)
        finally:
            self._tasks.pop(call_id, None)

    async def _follow_in_store(self, call_id: str) -> None:
        while (call := self.calls.get(call_id)) is not None and call.ended is None:
            await asyncio.to_thread(self._backfill, call_id)
            if (outcome := await asyncio.to_thread(self._stored_end, call_id)) is not None:
                self._ended(call_id, {"outcome": outcome[0]})
                break
            await asyncio.sleep(STORE_POLL_S)
        await asyncio.to_thread(self._backfill, call_id)

    def _stored_end(self, call_id: str) -> tuple[str | None] | None:
        """(outcome,) once the store has the call ended, else None."""
        ends = self._stored_ends([call_id])
        return (ends[call_id],) if call_id in ends else None

    async def _follow_on_bus(self, call_id: str) -> None:
        async with self.bus.subscribe(call_channel(call_id)) as events:
            await asyncio.to_thread(self._backfill, call_id)
            settled = False  # read again once the store has committed what came before joining
            while True:
                event = await events.get(timeout=CATCH_UP_S)
                call = self.calls.get(call_id)
                if call is None:
                    return
                if event is None:  # quiet
                    if not settled or call.ended is not None:
                        await asyncio.to_thread(self._backfill, call_id)
                        settled = True
                    if call.ended is not None:  # its end was heard on the calls channel only
                        break
                elif event.get("type") == "call.turn":
                    call.add_turn(event["turn"])
                    if len(call.turns) <= max(call.turns):  # an earlier turn's event was lost
                        await asyncio.to_thread(self._backfill, call_id)
                elif event.get("type") == "call.ended":
                    await asyncio.to_thread(self._backfill, call_id)
                    self._ended(call_id, event.get("result"))
                    break

    def _backfill(self, call_id: str) -> None:
        if self.store is None:
            return
        with self.store.session() as db:
            rows = list(db.scalars(select(Turn).where(Turn.call_id == call_id)))
        call = self.calls.get(call_id)
        for row in rows:
            if call is not None and row.index not in call.turns:
                call.add_turn({"index": row.index, "kind": row.kind, "debtor_text": row.debtor_text,
                               "nlu": {"intent": row.intent, "confidence": row.confidence} if row.intent else None,
                               "bot_text": row.bot_text, "actions": row.actions})

    def _prune(self) -> None:
        """Ended calls go after KEEP_ENDED_S; past MAX_CALLS, the oldest go first (ended ones,
        then the longest running, which crashed without an end)."""
        now = time.time()
        for call_id in [c for c, v in self.calls.items() if v.ended and now - v.ended > KEEP_ENDED_S]:
            del self.calls[call_id]
        if len(self.calls) >= MAX_CALLS:
            oldest = sorted(self.calls.values(), key=lambda c: (c.ended is None, c.ended or c.started))
            for call in oldest[:len(self.calls) - MAX_CALLS + 1]:
                del self.calls[call.call_id]
                if (task := self._tasks.pop(call.call_id, None)) is not None:
                    task.cancel()

    def snapshot(self) -> list[dict[str, Any]]:
        """Ongoing calls first, then those ended in the last two minutes; turns in order."""
        self._prune()
        now = time.time()
        out = []
        for call in sorted(self.calls.values(), key=lambda c: (c.ended is not None, -c.started)):
            out.append({"call_id": call.call_id, "account_id": call.account_id, "stage": call.stage,
                        "locale": call.locale, "ongoing": call.ended is None,
                        "seconds": round((call.ended or now) - call.started),
                        "outcome": (call.result or {}).get("outcome"),
                        "turns": [call.turns[i] for i in sorted(call.turns)]})
        return out


"""Joining a call to the store (and, optionally, to the live bus).

`attach_session` hooks a dialogue session's listeners, so it works for text calls too;
`attach_call` adds what a voice call has besides: per-turn timings from the dialogue
processor, the recording path, and the end of the call when the pipeline finishes.  Every hook
only queues a write, so the call never waits on the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from voicebot.records.models import Call, Turn
from voicebot.records.promise_book import promise_row, write_promise
from voicebot.records.store import RecordStore

if TYPE_CHECKING:
    from dialogue.session import CallSession, TurnRecord
    from telephony.bus.base import Bus
    from voicebot.pipeline.builder import BuiltCall

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _latency(timings: dict[str, Any]) -> float | None:
    value = timings.get("turn_latency_ms")
    return float(value) if value is not None else None


class CallLink:
    """One call's writes.  Created by the attach helpers; `finish()` records the end."""

    def __init__(self, store: RecordStore, session: "CallSession", extra: dict[str, Any] | None = None,
                 recording: str | None = None, speed: float = 1.0):
        self.store, self.session, self.speed = store, session, speed
        self.audio_t0: float | None = None  # monotonic time the recording starts (voice calls)
        self._opened_ms: int | None = None
        self.call_id = session.call_id
        self.threshold = session.scripts.strategy.nlu.confidence_threshold
        self.started = _now()
        self.finished = False
        account = session.account
        row = dict(id=self.call_id, account_id=account.id, debtor_name=account.name, phone=account.phone,
                   locale=session.scripts.locale, stage=session.stage, attempt=session.attempt,
                   voice=session.voice, started_at=self.started, confidence_threshold=self.threshold,
                   recording=recording, extra=dict(extra or {}), tags=[], tag_text=",")
        store.submit(lambda db: db.merge(Call(**row)))
        for turn in session.turns:  # attached after the opening: keep it too
            self.on_turn(turn)
        session.listeners.append(self.on_turn)
        session.event_listeners.append(self.on_event)

    def on_event(self, event: dict[str, Any]) -> None:
        """A callback's caller answered the knowledge check as another account of the number:
        the call is that debtor's from now on, in their history, book and erasure, not the
        account the number was first matched to."""
        if event.get("kind") != "account_identified":
            return
        account, stage = self.session.account, self.session.stage

        def write(db) -> None:
            call = db.get(Call, self.call_id)
            if call is not None:
                call.account_id, call.debtor_name, call.phone, call.stage = (
                    account.id, account.name, account.phone, stage)
        self.store.submit(write)

    def on_turn(self, turn: "TurnRecord") -> None:
        nlu = turn.nlu or {}
        confidence = nlu.get("confidence")
        if self.audio_t0 is not None:
            audio_ms = round((time.monotonic() - self.audio_t0) * 1000 * self.speed)
        else:  # a text call: time since the opening
            if self._opened_ms is None:
                self._opened_ms = turn.at_ms
            audio_ms = round((turn.at_ms - self._opened_ms) * self.speed)
        row = dict(call_id=self.call_id, index=turn.index, kind=turn.kind, at_ms=turn.at_ms, audio_ms=audio_ms,
                   debtor_text=turn.debtor_text, intent=nlu.get("intent"), confidence=confidence,
                   entities=list(nlu.get("entities") or []),
                   low_confidence=confidence is not None and confidence < self.threshold,
                   node=turn.node, bot_text=turn.bot_text, actions=list(turn.actions),
                   events=list(turn.events), nlu_ms=turn.nlu_ms)
        self.store.submit(lambda db: db.add(Turn(**row)))

    def on_timing(self, index: int, timings: dict[str, float]) -> None:
        timings = dict(timings)

        def write(db) -> None:
            turn = db.scalars(select(Turn).where(Turn.call_id == self.call_id, Turn.index == index)).first()
            if turn is not None:
                turn.timings, turn.latency_ms = timings, _latency(timings)
        self.store.submit(write)

    def finish(self, extra: dict[str, Any] | None = None) -> None:
        """The call ended: outcome, score, tags, SMS and handoffs (from the turns' actions)."""
        if self.finished:
            if extra:
                self.update_extra(extra)
            return
        self.finished = True
        session = self.session
        if not session.ended:
            session.hangup()
        result = session.result()
        actions = [dict(a, turn=t.index) for t in session.turns for a in t.actions]
        ended = _now()
        last_ms = max((t.at_ms for t in session.turns), default=0)
        values = dict(
            ended_at=ended, duration_s=max((ended - self.started).total_seconds(), last_ms / 1000),
            outcome=result.outcome, score=result.score, tags=list(result.tags),
            tag_text="," + ",".join(result.tags) + ",", details=dict(result.details),
            identity_confirmed=session.policy.state.identity_confirmed,
            connected=any(t.kind in ("speech", "dtmf") for t in session.turns),
            escalated=result.outcome == "escalated" or any(a.get("kind") == "transfer" for a in actions),
            low_confidence="low_confidence" in result.tags,
            sms=[a for a in actions if a.get("kind") == "sms"],
            handoffs=[a for a in actions if a.get("kind") == "transfer"],
            events=list(session.events))

        def write(db) -> None:
            call = db.get(Call, self.call_id)
            if call is None:
                return
            for key, value in values.items():
                setattr(call, key, value)
            if extra:
                call.extra = {**(call.extra or {}), **_jsonable(extra)}
        self.store.submit(write)
        promise = promise_row(session, result, ended)  # a promise heard and read back: the book's
        if promise is not None:
            self.store.submit(write_promise(promise))
        if self.on_turn in session.listeners:
            session.listeners.remove(self.on_turn)
        if self.on_event in session.event_listeners:
            session.event_listeners.remove(self.on_event)

    def update_extra(self, extra: dict[str, Any]) -> None:
        """Add what only the caller learns at the very end (e.g. who closed the stream)."""
        clean = _jsonable(extra)

        def write(db) -> None:
            call = db.get(Call, self.call_id)
            if call is not None:
                call.extra = {**(call.extra or {}), **clean}
        self.store.submit(write)


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    import json
    return json.loads(json.dumps({k: v for k, v in extra.items() if k != "turns"}, default=str))


def attach_session(store: RecordStore | None, session: "CallSession", extra: dict[str, Any] | None = None,
                   recording: str | None = None, speed: float = 1.0) -> CallLink | None:
    """Store a session's turns as they happen (None store: nothing to do, returns None)."""
    if store is None:
        return None
    return CallLink(store, session, extra, recording, speed)


def attach_call(call: "BuiltCall", store: RecordStore | None, bus: "Bus | None" = None,
                extra: dict[str, Any] | None = None, speed: float = 1.0) -> CallLink | None:
    """Store a voice call as it happens, and publish it live on `bus` if given.

    Call from inside the call's event loop, after `build_call` and before `run_call`.  `speed`
    is a simulation's pace (audio seconds per wall second), so turns map onto the recording."""
    session = call.recorder.session
    link = attach_session(store, session, extra, str(call.recorder.wav_path), speed) if store else None
    if link is not None:
        link.audio_t0 = time.monotonic()  # the pipeline (and its recording) starts right after
        call.dialogue.timing_listeners.append(link.on_timing)
    feed = None
    if bus is not None:
        from telephony.bus.live import CallFeed

        feed = CallFeed(bus, session)
        asyncio.get_running_loop().create_task(feed.start())

    @call.worker.event_handler("on_pipeline_finished")
    async def _finished(_worker, _frame) -> None:
        if link is not None:
            link.finish()
        if feed is not None:
            try:
                await feed.end()
            except Exception as exc:  # the live view is worth less than the call
                log.warning("live feed of call %s did not end cleanly: %s", session.call_id, exc)
    return link


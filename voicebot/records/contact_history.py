"""The contact history in the records store (`vb_contact_attempts`): telephony's ContactHistory.

One table, every source: the campaign worker's dials, the calls the media-stream server takes,
calls in, texts.  A checked start (`start`) reads the account's attempts, asks the rules and
records the new attempt in one transaction that no other start for the account interleaves
with, on every machine: PostgreSQL takes an advisory lock on the account for the transaction,
SQLite its write lock from the first statement (BEGIN IMMEDIATE).  So two replicas asked to
call one debtor at the same moment cannot both take the seventh slot of the week.

Everything else (an attempt recorded as it happens, what came of it) goes through the store's
background writer: never blocking a call, retried while the database is away, in order.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from dialogue.compliance.rules import Attempt
from telephony.contact_history import (
    LOOKBACK, NOT_PLACED, ContactAttempt, Decide, HistoryUnavailable, Started,
)
from voicebot.records.models import ContactAttempt as Row
from voicebot.records.store import RecordStore

SQLITE_BUSY_MS = 30_000  # the store's own busy timeout, put back after a bounded start


def _aware(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at


def as_attempt(row: Row) -> Attempt:
    return Attempt(_aware(row.started_at), row.connected, row.conversation, row.phone, row.channel, row.direction,
                   ref=row.call_id)


def _values(attempt: ContactAttempt, attempt_id: str) -> dict:
    return {"id": attempt_id, "account_id": attempt.account_id, "phone": attempt.phone,
            "channel": attempt.channel, "direction": attempt.direction, "source": attempt.source,
            "started_at": attempt.started_at.astimezone(timezone.utc), "outcome": attempt.outcome,
            "connected": attempt.connected, "conversation": attempt.conversation, "call_id": attempt.call_id}


class _GaveUp(Exception):
    pass


def _restore_busy_timeout(conn: Connection) -> None:
    """The pooled connection goes back with the store's own busy timeout (or not at all)."""
    try:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        conn.commit()
    except (OperationalError, InterfaceError):
        conn.invalidate()


def _rows_since(db: Session, account_id: str, since: datetime) -> list[Row]:
    return list(db.scalars(select(Row).where(Row.account_id == account_id,
                                             Row.started_at >= since.astimezone(timezone.utc))
                           .order_by(Row.started_at, Row.id)))


class StoredContactHistory:
    """`StoredContactHistory(store)`: the history in `store`'s database."""

    def __init__(self, store: RecordStore):
        self.store = store
        self.description = f"contact history in records store {store.description}"

    def _unavailable(self, exc: Exception) -> HistoryUnavailable:
        reason = getattr(exc, "orig", None) or exc
        return HistoryUnavailable(f"{self.description}: {type(exc).__name__}: {reason}")

    # -- reading ----------------------------------------------------------------------------
    def attempts_since(self, account_id: str, since: datetime) -> list[Attempt]:
        try:
            with self.store.session() as db:
                rows = _rows_since(db, account_id, since)
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from None
        return [as_attempt(r) for r in rows if r.outcome != NOT_PLACED]

    def rows_since(self, account_id: str, since: datetime) -> list[Row]:
        """The rows themselves, with their sources (`voicebot compliance check`, tests)."""
        with self.store.session() as db:
            return _rows_since(db, account_id, since)

    # -- a checked start --------------------------------------------------------------------
    def start(self, attempt: ContactAttempt, decide: Decide, *, adopt_within: timedelta | None = None,
              timeout_s: float | None = None, give_up: threading.Event | None = None) -> Started:
        """See ContactHistory.start.  `timeout_s` bounds the waits for a lock; `give_up`, set by a
        caller that stopped waiting, makes the transaction roll back instead of committing."""
        try:
            with self._exclusive(attempt.account_id, timeout_s) as conn:
                found = conn.execute(select(Row.__table__).where(
                    Row.account_id == attempt.account_id,
                    Row.started_at >= (attempt.started_at - LOOKBACK).astimezone(timezone.utc))
                    .order_by(Row.started_at, Row.id))
                rows = [Row(**r._mapping) for r in found]
                taken_over = _open_campaign_dial(rows, attempt.started_at, adopt_within)
                past = [as_attempt(r) for r in rows if r is not taken_over and r.outcome != NOT_PLACED]
                decision = decide(past)
                if not decision.allowed:
                    return Started(decision)
                if taken_over is not None:
                    return Started(decision, taken_over.id, adopted=True)
                attempt_id = uuid.uuid4().hex
                conn.execute(insert(Row.__table__).values(**_values(attempt, attempt_id)))
                if give_up is not None and give_up.is_set():
                    raise _GaveUp()
                return Started(decision, attempt_id)
        except _GaveUp:
            raise HistoryUnavailable(f"{self.description}: the call start stopped waiting; nothing recorded") from None
        except (OperationalError, InterfaceError) as exc:
            raise self._unavailable(exc) from None

    @contextmanager
    def _exclusive(self, account_id: str, timeout_s: float | None) -> Iterator[Connection]:
        """A transaction no other start for this account runs beside: committed at the end,
        rolled back on any error."""
        with self.store.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            try:
                with conn.begin():
                    if sqlite:
                        conn.exec_driver_sql(f"PRAGMA busy_timeout = {int((timeout_s or 30) * 1000)}")
                        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, not at the insert
                    elif conn.dialect.name == "postgresql":
                        if timeout_s:
                            ms = max(1, int(timeout_s * 1000))
                            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
                            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
                        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                                     {"key": f"vb_contact_attempts:{account_id}"})
                    yield conn
            finally:
                if sqlite and timeout_s:
                    _restore_busy_timeout(conn)

    # -- writing as it happens --------------------------------------------------------------
    def record(self, attempt: ContactAttempt) -> str:
        attempt_id = uuid.uuid4().hex
        values = _values(attempt, attempt_id)
        self.store.submit(lambda db: db.execute(insert(Row.__table__).values(**values)))
        return attempt_id

    def finish(self, attempt_id: str, *, outcome: str, connected: bool, conversation: bool,
               call_id: str | None = None, account_id: str | None = None) -> None:
        values: dict[str, Any] = {"outcome": outcome[:32], "connected": connected, "conversation": conversation}
        if call_id:
            values["call_id"] = call_id
        if account_id:
            values["account_id"] = account_id

        def write(db: Session) -> None:
            db.execute(update(Row).where(Row.id == attempt_id).values(**values))
        self.store.submit(write)


def _open_campaign_dial(rows: list[Row], at: datetime, within: timedelta | None) -> Row | None:
    """The campaign's dial of this account still under way (no outcome) and at most `within`
    old: the call now starting is that dial, connected through a carrier to this server.  A
    campaign holds a lease per account while it dials, so there is at most one."""
    if within is None:
        return None
    open_dials = [r for r in rows if r.source == "campaign" and r.direction == "outbound" and r.channel == "call"
                  and r.outcome is None and at - within <= _aware(r.started_at) <= at]
    return open_dials[-1] if open_dials else None

"""The promise book on the records store: what a call's promise writes, and the campaign's
`PromiseBook` (telephony/campaign/promise_book.py) read and written in SQL.

Writing a promise goes through the store's writer thread like the rest of the call, right
after the call's outcome (voicebot/records/attach.py); reading waits for the writes queued
before it (`flush`), so a campaign round just after a call sees the promise that call made.
A follow-up step is stamped with one conditional UPDATE, so of two workers only one wins it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from dialogue.compliance.rules import debtor_time
from dialogue.promises import PaymentFact, heard_method
from dialogue.script.models import PROMISE_OUTCOMES
from telephony.campaign.promise_book import PromiseRecord, StateChange, Step
from voicebot.records.promises import Payment, Promise
from voicebot.records.store import RecordStore

if TYPE_CHECKING:
    from dialogue.outcome import CallResult
    from dialogue.session import CallSession

log = logging.getLogger(__name__)
BATCH = 500  # ids per IN (...), as voicebot/records/call_rows.py
_STAMPS = {"reminded": Promise.reminded_at, "followed_up": Promise.followed_up_at,
           "escalated": Promise.escalated_at}


def promise_row(session: "CallSession", result: "CallResult", created_at: datetime) -> dict[str, Any] | None:
    """The book's row for a call that ended on a promise (after its read-back yes), else None.

    Dates are the debtor's: the promised date as the call heard it, the call's day from the
    session's `today` (the campaign's clock in a virtual-time run), both in the account's zone."""
    if result.outcome not in PROMISE_OUTCOMES:
        return None
    details, account = result.details, session.account
    if not details.get("promise_date") or not details.get("promised_amount"):
        log.warning("call %s: %s without a date or amount, not in the promise book", session.call_id,
                    result.outcome)
        return None
    clock = debtor_time(account)
    return dict(
        account_id=account.id, call_id=session.call_id, locale=session.scripts.locale, stage=session.stage,
        voice=session.voice, outcome=result.outcome, promised_on=date.fromisoformat(str(details["promise_date"])),
        made_on=session.today, timezone=clock.primary.key if clock.known else "UTC",
        amount=round(float(details["promised_amount"]), 2),
        currency=account.currency or session.scripts.strategy.currency,
        method=heard_method([t.debtor_text or "" for t in session.turns], account.payment_methods),
        state="pending", paid=0.0, created_at=created_at)


def write_promise(row: dict[str, Any]):
    """The store write adding a promise row (once per call: a repeated finish adds nothing)."""
    def write(db) -> None:
        if db.scalar(select(Promise.id).where(Promise.call_id == row["call_id"])) is None:
            db.add(Promise(**row))
    return write


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC; PostgreSQL aware values."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def record_of(p: Promise) -> PromiseRecord:
    return PromiseRecord(
        id=p.id, account_id=p.account_id, locale=p.locale, stage=p.stage, promised_on=p.promised_on,
        made_on=p.made_on, timezone=p.timezone, amount=float(p.amount), currency=p.currency, call_id=p.call_id,
        state=p.state, paid=float(p.paid or 0), reminded_at=_utc(p.reminded_at),  # type: ignore[arg-type]
        followed_up_at=_utc(p.followed_up_at), escalated_at=_utc(p.escalated_at))


class SqlPromiseBook:
    """`PromiseBook` on a `RecordStore` (its own database; sessions on the caller's thread)."""

    def __init__(self, store: RecordStore):
        self.store = store

    def promises(self, account_ids: Collection[str] | None = None) -> list[PromiseRecord]:
        self.store.flush()  # a promise its call just queued is part of the book
        rows = self._select(select(Promise), Promise.account_id, account_ids)
        return [record_of(p) for p in sorted(rows, key=lambda p: (p.made_on, p.id))]

    def payments(self, account_ids: Collection[str] | None = None) -> list[PaymentFact]:
        return [PaymentFact(p.reference, p.account_id, float(p.amount), _utc(p.paid_at))  # type: ignore[arg-type]
                for p in self._select(select(Payment), Payment.account_id, account_ids)]

    def _select(self, query, column, account_ids: Collection[str] | None) -> list:
        """Rows of these accounts, asked BATCH ids at a time (a campaign may hold thousands)."""
        with self.store.session() as db:
            if account_ids is None:
                return list(db.scalars(query))
            ids = sorted(set(account_ids))
            return [row for start in range(0, len(ids), BATCH)
                    for row in db.scalars(query.where(column.in_(ids[start:start + BATCH])))]

    def set_states(self, changes: list[StateChange]) -> None:
        def write(db) -> None:
            for change in changes:
                promise = db.get(Promise, change.promise_id)
                if promise is None:
                    continue
                if promise.state != change.state:
                    promise.state_at = change.at
                promise.state, promise.paid = change.state, round(change.paid, 2)
        self.store.write_now(write)

    def note_step(self, promise_id: int, step: Step, at: datetime, detail: str = "") -> bool:
        column = _STAMPS[step]
        won = []

        def write(db) -> None:
            result = db.execute(update(Promise).where(Promise.id == promise_id, column.is_(None))
                                .values({column.key: at}))
            won.append(result.rowcount == 1)
            if won[-1] and detail:
                promise = db.get(Promise, promise_id)
                promise.follow_up_note = "; ".join(filter(None, [promise.follow_up_note, f"{step}: {detail}"]))
        self.store.write_now(write)
        return won[0]

"""Which calls in the records database a retention purge or an erasure removes, and removing them.

Everything the database keeps about a debtor hangs off a call: the `vb_calls` row (name, phone,
outcome, SMS texts, events) and its `vb_turns` (the debtor's words, the intent corrections made
on them).  Turns are deleted explicitly before their calls, in batches, so it works the same on
SQLite and PostgreSQL whatever the foreign keys' cascade.

The audit log (`vb_audit`) is kept: it is the proof of who opened, played or exported which call
and when, which a bank must be able to show after the call itself is gone.  It holds ids
(call ids, account ids, console user names), not the debtor's name, words or number; the one
free-text field that could quote a number, a refused call's `reason`, is written masked now, and
`scrub_audit` masks numbers that older entries still hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dialogue.phone_masking import mask_numbers_in
from voicebot.records.models import AuditEntry, Call, Turn

BATCH = 500  # ids per IN (...): well under every database's limit on bound parameters
#: Audit actions whose detail carries free text from elsewhere (the contact rules' reasons).
FREE_TEXT_ACTIONS = ("call_refused",)


@dataclass
class CallRows:
    """Calls chosen for removal: their ids, how many turns they have, where their WAVs are."""

    ids: list[str] = field(default_factory=list)
    turns: int = 0
    recordings: list[str] = field(default_factory=list)


def _batches(ids: Iterable[str]) -> Iterator[list[str]]:
    ids = list(ids)
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


def _chosen(db: Session, where: Any) -> CallRows:
    rows = CallRows()
    for call_id, recording in db.execute(select(Call.id, Call.recording).where(where).order_by(Call.id)):
        rows.ids.append(call_id)
        if recording:
            rows.recordings.append(recording)
    for batch in _batches(rows.ids):
        rows.turns += db.scalar(select(func.count()).select_from(Turn).where(Turn.call_id.in_(batch))) or 0
    return rows


def calls_ended_before(db: Session, cutoff: datetime) -> CallRows:
    """Calls that ended before `cutoff`, or started before it and never recorded an end."""
    return _chosen(db, func.coalesce(Call.ended_at, Call.started_at) < cutoff.astimezone(UTC))


def calls_of_account(db: Session, account_id: str) -> CallRows:
    return _chosen(db, Call.account_id == account_id)


def known_ids(db: Session, ids: Iterable[str]) -> set[str]:
    """Which of `ids` the database has a call for."""
    known: set[str] = set()
    for batch in _batches(ids):
        known.update(db.scalars(select(Call.id).where(Call.id.in_(batch))))
    return known


def delete_calls(db: Session, ids: Iterable[str]) -> tuple[int, int]:
    """Delete the calls and their turns; (calls, turns) deleted.  The caller commits.

    On SQLite a deleted row's bytes stay in the file's free pages until reused: `secure_delete`
    has them overwritten with zeros, so a copy of the file does not hold what was erased."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(text("PRAGMA secure_delete=ON"))
    calls = turns = 0
    for batch in _batches(ids):
        turns += db.execute(delete(Turn).where(Turn.call_id.in_(batch))).rowcount or 0
        calls += db.execute(delete(Call).where(Call.id.in_(batch))).rowcount or 0
    return calls, turns


def truncate_wal(engine: Engine) -> None:
    """SQLite in WAL mode: copy the write-ahead log into the database and empty it, so the old
    page images it holds (the rows just deleted) go too; a busy database is left for next time."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_numbers_in(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def scrub_audit(db: Session, *, dry_run: bool = False) -> int:
    """Mask phone numbers left in older audit entries' free text; how many entries held one."""
    changed = 0
    for entry in db.scalars(select(AuditEntry).where(AuditEntry.action.in_(FREE_TEXT_ACTIONS))):
        clean = _masked(entry.detail or {})
        if clean != (entry.detail or {}):
            changed += 1
            if not dry_run:
                entry.detail = clean
    return changed

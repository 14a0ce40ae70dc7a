"""The audit log: who opened, played, corrected, exported or claimed what, and when.

Entries go through the store's writer like call records: logging never slows a page down,
and the log lives in the same database as the calls it is about.  It sits with the records,
not the console, because the server and the retention sweep write to it too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select

from voicebot.records.models import AuditEntry
from voicebot.records.store import RecordStore


class Actor(Protocol):
    """Someone signed in (the console's `Principal`): the log keeps only the name."""

    username: str


def audit(store: RecordStore, who: Actor | str, action: str, target: str = "",
          **detail: Any) -> None:
    username = who if isinstance(who, str) else who.username
    entry = dict(at=datetime.now(UTC), username=username, action=action, target=target, detail=detail)
    store.submit(lambda db: db.add(AuditEntry(**entry)))


def recent(store: RecordStore, limit: int = 200) -> list[AuditEntry]:
    store.flush()
    with store.session() as db:
        return list(db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))

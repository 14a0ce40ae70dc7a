"""The audit log: who opened, played, corrected, exported or claimed what, and when.

Entries go through the store's writer like call records: logging never slows a page down,
and the log lives in the same database as the calls it is about.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from voicebot.console.auth import Principal
from voicebot.records.models import AuditEntry
from voicebot.records.store import RecordStore


def audit(store: RecordStore, who: Principal | str, action: str, target: str = "",
          **detail: Any) -> None:
    username = who.username if isinstance(who, Principal) else who
    entry = dict(at=datetime.now(UTC), username=username, action=action, target=target, detail=detail)
    store.submit(lambda db: db.add(AuditEntry(**entry)))


def recent(store: RecordStore, limit: int = 200) -> list[AuditEntry]:
    store.flush()
    with store.session() as db:
        return list(db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))

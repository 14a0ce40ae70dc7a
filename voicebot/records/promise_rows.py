"""The promise book's rows in a retention purge or an erasure (voicebot/records/retention.py).

A promise and a payment are about one debtor (the account, what they promised, how and when
they paid), so they go the way of the calls: an erasure removes every promise and payment of
the account; a purge removes the promises made before the cut-off that are settled (a pending
one is still being followed up, its call may be gone but the promise is the lender's current
business) and the payments made before it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from voicebot.records.promises import Payment, Promise


def _count_and_delete(db: Session, table, where, dry_run: bool) -> int:
    count = db.scalar(select(func.count()).select_from(table).where(where)) or 0
    if count and not dry_run:
        db.execute(delete(table).where(where))
    return count


def purge_promises(db: Session, cutoff: datetime, *, dry_run: bool = False) -> int:
    """Settled promises made before `cutoff` and payments made before it; how many rows."""
    day = cutoff.astimezone(UTC).date()
    settled = (Promise.made_on < day) & (Promise.state != "pending")
    return (_count_and_delete(db, Promise, settled, dry_run)
            + _count_and_delete(db, Payment, Payment.paid_at < cutoff.astimezone(UTC), dry_run))


def erase_promises(db: Session, account_id: str, *, dry_run: bool = False) -> int:
    """Every promise and payment of the account; how many rows."""
    return (_count_and_delete(db, Promise, Promise.account_id == account_id, dry_run)
            + _count_and_delete(db, Payment, Payment.account_id == account_id, dry_run))

"""The contact history's part in a retention purge and an erasure (`vb_contact_attempts`).

What the rules need stays: an attempt's account id, time, channel, direction and whether it
was a conversation are what the caps count (as the campaign store keeps its dial times), so
a purge removes only attempts older than both the cut-off and the rules' look-back, and an
erasure clears the attempts' phone numbers, the one personal detail a row holds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from telephony.contact_history import LOOKBACK
from voicebot.records.models import ContactAttempt


def purge_attempts(db: Session, cutoff: datetime, *, now: datetime | None = None, dry_run: bool = False) -> int:
    """Delete attempts started before `cutoff`, never one the rules may still count; how many."""
    keep_from = min(cutoff.astimezone(UTC), (now or datetime.now(UTC)) - LOOKBACK)
    old = ContactAttempt.started_at < keep_from
    if dry_run:
        return db.scalar(select(func.count()).select_from(ContactAttempt).where(old)) or 0
    return db.execute(delete(ContactAttempt).where(old)).rowcount or 0


def erase_attempt_phones(db: Session, account_id: str, *, dry_run: bool = False) -> int:
    """Clear the phone number on the account's attempts; how many held one."""
    held = (ContactAttempt.account_id == account_id) & ContactAttempt.phone.is_not(None)
    if dry_run:
        return db.scalar(select(func.count()).select_from(ContactAttempt).where(held)) or 0
    return db.execute(update(ContactAttempt).where(held).values(phone=None)).rowcount or 0

"""A number whose callers keep failing the knowledge check gets no more tries for a while.

Two wrong answers close a callback, but nothing stops the caller from dialling again: a date
of birth has some 20,000 likely values and a ZIP code a few dozen around a known town, and a
caller ID is easy to fake. So the callbacks from one number that ended with the check failed
(the call's `verification_failed` tag, in the records store) are counted over a window; at
`verification_lockout_calls` of them the next callback compares no answer at all
(`CallSession.verification_locked`) and closes as a failed check does, without telling a
guesser that it is locked. The debtor can still reach a person through the lender.

The records store away (or none): the callback runs unlocked, with a warning. Failing closed
would lock every honest caller out during a database outage; failing open gives a guesser at
most two tries a call while it lasts.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from loguru import logger
from sqlalchemy import func, select

from dialogue.phone_masking import mask_phone
from voicebot.records.models import Call
from voicebot.records.store import RecordStore
from voicebot.server.settings import ServerSettings

FAILED_TAG = "verification_failed"  # dialogue/outcome.py tags a call whose caller never passed
LOOKUP_TIMEOUT_S = 1.0              # a call start never waits longer for the count


def failed_callbacks(records: RecordStore, phone: str, since: datetime) -> int:
    """Calls with this number since `since` whose caller failed the knowledge check."""
    with records.session() as db:
        query = (select(func.count()).select_from(Call)
                 .where(Call.phone == phone, Call.started_at >= since,
                        Call.tag_text.contains(f",{FAILED_TAG},")))
        return int(db.scalar(query) or 0)


async def verification_locked(records: RecordStore | None, phone: str | None, settings: ServerSettings,
                              now: datetime | None = None) -> bool:
    """Whether this callback's number is locked out of the knowledge check now."""
    limit = settings.verification_lockout_calls
    if records is None or not phone or limit == 0:
        return False
    since = (now or datetime.now(UTC)) - timedelta(hours=settings.verification_lockout_hours)
    try:
        failed = await asyncio.wait_for(asyncio.to_thread(failed_callbacks, records, phone, since),
                                        LOOKUP_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - the store away: unlocked, said in the log
        logger.warning(f"callback lockout not checked for {mask_phone(phone)}: the records store did not "
                       f"answer ({type(exc).__name__}: {exc or 'timed out'})")
        return False
    if failed >= limit:
        logger.warning(f"callback from {mask_phone(phone)}: {failed} failed identity checks in "
                       f"{settings.verification_lockout_hours:g} h, the knowledge check is locked")
        return True
    return False

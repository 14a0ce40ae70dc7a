"""A call the server places to an account with a broken promise is that promise's follow-up.

The campaign worker hands its in-process dialer the promise to bring up; a call that reaches the
server through a carrier (`campaign run --server`, or any dialer) names only its account. So at
call start the server asks the promise book for the account's latest promise; when that one is
broken and not yet escalated, the stage script takes its `on_broken_promise` branch after the
identity check ("you mentioned paying $200 on Friday; it hasn't reached us yet"). The book away
never stops a call: it goes on as an ordinary one, with a warning.
"""

from __future__ import annotations

import asyncio

from loguru import logger

from dialogue.accounts import Account
from dialogue.promises import prior_promise, with_prior_promise
from telephony.campaign.follow_up import prior
from voicebot.records.promise_book import SqlPromiseBook
from voicebot.records.store import RecordStore

LOOKUP_TIMEOUT_S = 1.0  # a call start never waits longer than this for the book


def latest_open_promise(book: SqlPromiseBook, account_id: str):
    """The account's latest promise when it is broken (a newer promise, pending or kept, is
    what the debtor said since: nothing to bring up) and not yet handed to people."""
    latest = max(book.promises([account_id]), key=lambda r: (r.made_on, r.id), default=None)
    return latest if latest is not None and latest.state == "broken" and latest.escalated_at is None else None


async def as_follow_up(account: Account, records: RecordStore | None) -> Account:
    """`account`, with the promise its call follows up when the book holds one."""
    if records is None or prior_promise(account) is not None:
        return account
    try:
        record = await asyncio.wait_for(
            asyncio.to_thread(latest_open_promise, SqlPromiseBook(records), account.id), LOOKUP_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - the book away: an ordinary call, said in the log
        logger.warning(f"promise book unavailable for {account.id} ({exc or 'timed out'}): "
                       "the call goes on without its follow-up branch")
        return account
    return with_prior_promise(account, prior(record)) if record is not None else account

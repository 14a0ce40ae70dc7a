"""A call the server places to an account whose latest promise is broken brings it up after
the identity check (the promise book read at call start, voicebot/server/follow_up.py): the gap
a campaign dialling through a carrier left, since its start names only the account."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from conftest import CALL_DATE
from voicebot.records.promise_book import write_promise
from voicebot.records.store import RecordStore, sqlite_url
from voicebot.server.follow_up import as_follow_up


def _promise(store: RecordStore, account_id: str, call_id: str, made_on: date, state: str, **extra) -> None:
    store.submit(write_promise(dict(
        account_id=account_id, call_id=call_id, locale="en", stage="early", voice="en-joe",
        outcome="promise_to_pay", promised_on=date(2026, 11, 20), made_on=made_on, timezone="UTC",
        amount=200.0, currency="USD", method=None, state=state, paid=0.0,
        created_at=datetime(2026, 11, 16, tzinfo=UTC), **extra)))
    store.flush()


def test_the_latest_broken_promise_is_brought_up_after_identity(tmp_path, engines, accounts):
    store = RecordStore(sqlite_url(tmp_path / "records.db"))
    try:
        account = accounts["EN-EARLY-1"]
        assert asyncio.run(as_follow_up(account, store)) is account  # nothing in the book
        _promise(store, "EN-EARLY-1", "c1", date(2026, 11, 16), "broken")
        followed = asyncio.run(as_follow_up(account, store))
        session = engines["en"].start_call(followed, today=CALL_DATE)
        opening = session.open().bot_text
        assert "$200" not in opening and "November 20" not in opening
        said = session.hear("yes this is John").bot_text
        assert "$200" in said and "November 20" in said, said

        _promise(store, "EN-EARLY-1", "c2", date(2026, 11, 21), "pending")  # promised again since
        assert asyncio.run(as_follow_up(account, store)) is account
    finally:
        store.close()


def test_no_book_or_a_book_that_fails_leaves_an_ordinary_call(tmp_path, accounts):
    account = accounts["EN-MID-1"]
    assert asyncio.run(as_follow_up(account, None)) is account
    store = RecordStore(sqlite_url(tmp_path / "records.db"))
    store.close()
    (tmp_path / "records.db").unlink()
    (tmp_path / "records.db").mkdir()  # the database file is gone, a folder in its place
    assert asyncio.run(as_follow_up(account, store)) is account

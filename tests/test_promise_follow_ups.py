"""Promise follow-ups inside a campaign, in virtual time (ManualClock): the reminder SMS the day
before, the check the day after, the follow-up call for a broken promise placed inside the
contact rules (Regulation F's week after a conversation holds it back), escalation after the
stage's number of broken promises, and none of it for a kept promise.

The calls are the real dialogue sessions (real scripts, real NLU) heard as text and recorded
through the records store's CallLink on a real SQLite file, as a served call is: the promise a
call makes reaches the book the way it does in production.  Only the audio is left out (the
done-when test, tests/test_promise_done_when.py, runs real voice calls)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialogue.engine import engine_for
from telephony.campaign import CallAnswer, CallRequest, CampaignWorker, InMemoryStore, ManualClock
from telephony.campaign.promise_follow_ups import PromiseFollowUps
from telephony.campaign.scripted_callee import scripted_debtor, scripted_status
from telephony.sms.config import SmsConfig
from telephony.sms.outbox import FileOutbox
from telephony.sms.store import InMemorySmsStore
from telephony.sms.triggers import SmsTriggers
from voicebot.records.attach import attach_session
from voicebot.records.payments import PaymentIn, add_payments, judge_after
from voicebot.records.promise_book import SqlPromiseBook
from voicebot.records.promises import Promise
from voicebot.records.store import RecordStore, sqlite_url

UTC = timezone.utc
LA = ZoneInfo("America/Los_Angeles")
CHICAGO = ZoneInfo("America/Chicago")


class TextDialer:
    """Answers as the account row's scripted callee (sim_answer, sim_debtor...), heard as text by
    a real CallSession recorded in the records store; keeps every request and what the bot said."""

    def __init__(self, store: RecordStore):
        self.store = store
        self.placed: list[CallRequest] = []
        self.said: dict[str, list[str]] = {}

    async def place(self, request: CallRequest) -> CallAnswer:
        self.placed.append(request)
        status = scripted_status(request)
        if status != "answered":
            return CallAnswer(status)  # type: ignore[arg-type]
        session = engine_for(request.account.locale).start_call(
            request.account, stage=request.stage, attempt=request.conversation, today=request.today,
            call_id=request.call_id)
        link = attach_session(self.store, session, {"campaign_call_id": request.call_id})
        said = [session.open().bot_text]
        for line in (scripted_debtor(request) or "").split("|"):
            if session.ended:
                break
            said.append(session.hear(line).bot_text)
        link.finish()
        self.said[request.call_id] = said
        return CallAnswer("answered", {"call_id": session.call_id, "voice": session.voice,
                                       **session.result().to_dict()})


@pytest.fixture
def book(tmp_path):
    store = RecordStore(sqlite_url(tmp_path / "records.db"))
    yield store
    store.close()


def row(accounts, base: str, new_id: str, phone: str, **sim):
    data = accounts[base].model_dump(mode="json")
    data.update(id=new_id, phone=phone, **sim)
    return type(accounts[base]).model_validate(data)


def campaign(store_db: RecordStore, tmp_path: Path, clock: ManualClock):
    campaign_store = InMemoryStore()
    sms = SmsTriggers(InMemorySmsStore(), FileOutbox(tmp_path / "outbox.jsonl"), campaign_store, clock, SmsConfig())
    dialer = TextDialer(store_db)
    steps = PromiseFollowUps(SqlPromiseBook(store_db), campaign_store, "spring", sms=sms)
    worker = CampaignWorker(campaign_store, dialer, "spring", clock=clock, worker_id="w", sms=sms, follow_ups=steps)
    return worker, dialer, campaign_store, steps


def promises(store: RecordStore) -> dict[str, Promise]:
    store.flush()
    with store.session() as db:
        return {p.account_id: p for p in db.query(Promise).all()}


def test_broken_promise_is_reminded_checked_and_called_kept_one_is_not(accounts, book, tmp_path):
    lines = "yes this is John|I can pay it on Friday|yes"
    keep = row(accounts, "EN-EARLY-1", "KEEP", "+12065550111", sim_debtor=lines)
    breaks = row(accounts, "EN-EARLY-1", "BREAK", "+12065550112", sim_debtor=lines,
                 sim_debtor_2="yes this is John|I'm sorry I will pay it on Wednesday|yes")
    clock = ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=LA))   # Monday
    worker, dialer, store, steps = campaign(book, tmp_path, clock)

    # Monday: both promise to pay Friday 27; then the campaign follows them up to Wednesday noon.
    asyncio.run(worker.run([keep, breaks], follow=True, until=datetime(2026, 11, 25, 12, 0, tzinfo=LA)))
    made = promises(book)
    assert {k: (str(p.promised_on), p.amount, p.state, p.stage) for k, p in made.items()} == {
        "KEEP": ("2026-11-27", 1250.0, "pending", "early"), "BREAK": ("2026-11-27", 1250.0, "pending", "early")}
    assert made["KEEP"].made_on.isoformat() == "2026-11-23" and made["KEEP"].timezone == "America/Los_Angeles"

    # The lender's feed: KEEP paid on Friday; BREAK is not in it.
    paid = [("line 2", PaymentIn(account_id="KEEP", amount=1250, paid_at="2026-11-27T18:30:00Z", reference="P-1"))]
    add_payments(book, paid, "csv", datetime(2026, 11, 28, tzinfo=UTC))

    # The next days: the reminder on Thursday, the check on Saturday, the follow-up call.
    asyncio.run(worker.run(follow=True, until=datetime(2026, 12, 2, 0, 0, tzinfo=LA)))
    after = promises(book)
    assert after["KEEP"].state == "kept" and after["KEEP"].paid == 1250.0
    assert after["KEEP"].followed_up_at is None
    broken = [p for p in after.values() if p.account_id == "BREAK"]
    calls = [r for r in dialer.placed if r.account.id == "BREAK"]
    assert len(calls) == 2 and [r.account.id for r in dialer.placed].count("KEEP") == 1  # kept: no follow-up
    follow_up = calls[1]
    # Checked the day after (Sat 28 00:00), but the us profile allows no call for 7 days after
    # Monday's conversation: the call waits for the rules, Monday 30 at 10:00.
    assert follow_up.account.model_extra["prior_promise"]["date"] == "2026-11-27"
    started = [c.started_at for c in worker.store.calls("spring") if c.account_id == "BREAK"]
    assert started[1].astimezone(LA).strftime("%a %d %H:%M") == "Mon 30 10:00"
    said = dialer.said[follow_up.call_id]
    assert "1,250" not in said[0]  # identity first
    assert "You mentioned paying $1,250 on Friday, November 27; it hasn't reached us yet" in said[1] \
        or "you mentioned paying $1,250 on Friday, November 27, but it hasn't reached us yet" in said[1]
    with book.session() as db:
        first = db.query(Promise).filter(Promise.account_id == "BREAK").order_by(Promise.id).first()
        assert (first.state, first.followed_up_at is not None, first.reminded_at is not None) == ("broken", True, True)
    # The follow-up call ended on a new promise (Wednesday): a second row, pending.
    assert sorted(str(p.promised_on) for p in broken_rows(book)) == ["2026-11-27", "2026-12-02"]

    # Reminders went out on Thursday 26 in the morning send window, to both (neither had paid yet).
    sent = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    reminders = [m for m in sent if m["trigger"] == "promise_reminder"]
    friday = [m for m in reminders if "you planned to pay $1,250 on Friday, November 27" in m["text"]]
    assert sorted(m["account_id"] for m in friday) == ["BREAK", "KEEP"]
    assert all(m["local_time"].startswith("2026-11-26T09:00") for m in friday)
    # and the follow-up call's new promise (Wednesday) was reminded of on Tuesday
    [tuesday] = [m for m in reminders if "Wednesday, December 2" in m["text"]]
    assert tuesday["local_time"].startswith("2026-12-01T09:00")


def test_a_payment_after_the_check_cancels_the_follow_up_call_already_scheduled(accounts, book, tmp_path):
    """Broken on Saturday, its follow-up call waits for Monday (the quiet week); the money comes
    on Sunday, late: no call says "it hasn't reached us", the account is resolved again."""
    late = row(accounts, "EN-EARLY-1", "LATE", "+12065550113", sim_debtor="yes this is John|I can pay it on Friday|yes")
    clock = ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=LA))   # Monday
    worker, dialer, store, _steps = campaign(book, tmp_path, clock)
    asyncio.run(worker.run([late], follow=True, until=datetime(2026, 11, 29, 12, 0, tzinfo=LA)))
    scheduled = store.state("spring", "LATE")
    assert promises(book)["LATE"].state == "broken" and len(dialer.placed) == 1
    # due at the check, put off by the rules till Monday, still about Friday's promise
    assert (scheduled.status, scheduled.waiting_for, scheduled.follow_up["date"]) == (
        "pending", "quiet_days_after_conversation", "2026-11-27")

    paid = [("line 2", PaymentIn(account_id="LATE", amount=1250, paid_at="2026-11-29T21:00:00Z", reference="P-9"))]
    judge_after(book, add_payments(book, paid, "csv", datetime(2026, 11, 29, 22, tzinfo=UTC)), {"LATE"},
                datetime(2026, 11, 29, 22, tzinfo=UTC), timedelta(0))
    asyncio.run(worker.run(follow=True, until=datetime(2026, 12, 2, 0, 0, tzinfo=LA)))

    assert len(dialer.placed) == 1  # the follow-up call was never placed
    promise = promises(book)["LATE"]
    assert (promise.state, promise.paid) == ("paid_late", 1250.0)
    state = store.state("spring", "LATE")
    assert (state.status, state.final, state.follow_up) == ("done", "resolved", None)
    assert "follow-up cancelled" in state.note and "paid late" in state.note


def broken_rows(store: RecordStore) -> list[Promise]:
    with store.session() as db:
        return list(db.query(Promise).filter(Promise.account_id == "BREAK"))


def test_second_broken_promise_goes_to_a_person(accounts, book, tmp_path):
    """The mid stage escalates after 2 broken promises: promise, broken, follow-up call with a
    new promise, broken again: the account leaves the campaign for the human queue."""
    mid = row(accounts, "EN-MID-1", "TWICE", "+13125550122",
              sim_debtor="yes this is Maria|I'll pay it on Friday|yes",
              sim_debtor_2="yes this is Maria|I can pay on Tuesday|yes")
    clock = ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=CHICAGO))
    worker, dialer, store, _steps = campaign(book, tmp_path, clock)
    asyncio.run(worker.run([mid], follow=True, until=datetime(2026, 12, 20, tzinfo=CHICAGO)))
    rows = broken_rows_of(book, "TWICE")
    assert [(str(p.promised_on), p.state) for p in rows] == [("2026-11-27", "broken"), ("2026-12-01", "broken")]
    assert rows[0].followed_up_at is not None and rows[1].escalated_at is not None
    assert "escalated: collections" in rows[1].follow_up_note
    assert len(dialer.placed) == 2  # no third call
    state = store.state("spring", "TWICE")
    assert (state.status, state.final) == ("done", "handed_off") and "2 broken promises" in state.note


def broken_rows_of(store: RecordStore, account_id: str) -> list[Promise]:
    store.flush()
    with store.session() as db:
        return list(db.query(Promise).filter(Promise.account_id == account_id).order_by(Promise.id))


def test_a_step_is_taken_once_whoever_asks(book, tmp_path):
    """Two workers sharing a campaign race for one follow-up: the book's conditional stamp lets
    one win."""
    from voicebot.records.promise_book import write_promise
    from datetime import date

    book.submit(write_promise(dict(account_id="A", call_id="c1", locale="en", stage="early", voice="en-joe",
                                   outcome="promise_to_pay", promised_on=date(2026, 12, 11), made_on=date(2026, 12, 7),
                                   timezone="UTC", amount=200.0, currency="USD", method=None, state="pending",
                                   paid=0.0, created_at=datetime(2026, 12, 7, tzinfo=UTC))))
    first, second = SqlPromiseBook(book), SqlPromiseBook(book)
    [record] = first.promises(["A"])
    at = datetime(2026, 12, 12, tzinfo=UTC)
    assert first.note_step(record.id, "followed_up", at, "campaign spring") is True
    assert second.note_step(record.id, "followed_up", at, "campaign spring") is False
    assert second.promises(["A"])[0].followed_up_at == at


def test_payments_after_the_fact_turn_broken_into_kept(book):
    """A payment made in time but imported after the check makes the promise kept again."""
    from voicebot.records.promise_book import write_promise
    from datetime import date

    book.submit(write_promise(dict(account_id="L", call_id="c9", locale="en", stage="early", voice="en-joe",
                                   outcome="promise_to_pay", promised_on=date(2026, 12, 11), made_on=date(2026, 12, 7),
                                   timezone="America/Los_Angeles", amount=300.0, currency="USD", method=None,
                                   state="pending", paid=0.0, created_at=datetime(2026, 12, 7, tzinfo=UTC))))
    later = datetime(2026, 12, 13, tzinfo=UTC)
    result = judge_after(book, add_payments(book, [], "csv", later), {"L"}, later, timedelta(0))
    assert result.judged == {"broken": 1}
    late_feed = [("line 2", PaymentIn(account_id="L", amount=300, paid_at="2026-12-11", reference="R-9"))]
    result = judge_after(book, add_payments(book, late_feed, "csv", later), {"L"}, later, timedelta(0))
    assert result.judged == {"kept": 1}
    assert broken_rows_of(book, "L")[0].state_at is not None


def test_erasure_and_purge_take_the_promise_book_too(book, tmp_path):
    """An erasure removes all of the account's promises and payments; a purge the settled
    promises and the payments from before the cut-off, and keeps a pending promise."""
    from datetime import date

    from voicebot.records.promise_book import write_promise
    from voicebot.records.retention import erase_account, purge_records

    def made(account_id: str, call_id: str, made_on: date, state: str) -> None:
        book.submit(write_promise(dict(account_id=account_id, call_id=call_id, locale="en", stage="early",
                                       voice="en-joe", outcome="promise_to_pay", promised_on=made_on + timedelta(days=3),
                                       made_on=made_on, timezone="UTC", amount=100.0, currency="USD", method=None,
                                       state=state, paid=0.0, created_at=datetime(2026, 1, 1, tzinfo=UTC))))
    made("GONE", "g1", date(2026, 11, 1), "broken")
    made("OLD", "o1", date(2025, 1, 10), "kept")
    made("OLD", "o2", date(2025, 1, 20), "pending")
    made("NEW", "n1", date(2026, 11, 20), "pending")
    add_payments(book, [("l2", PaymentIn(account_id="GONE", amount=50, paid_at="2026-11-02", reference="G-1")),
                        ("l3", PaymentIn(account_id="OLD", amount=100, paid_at="2025-01-11", reference="O-1"))],
                 "csv", datetime(2026, 11, 3, tzinfo=UTC))
    folder = tmp_path / "calls"
    folder.mkdir()
    erased = asyncio.run(erase_account(book, folder, None, "GONE"))
    assert erased.promise_rows == 2 and broken_rows_of(book, "GONE") == []
    purged = asyncio.run(purge_records(book, folder, None, cutoff=datetime(2026, 1, 1, tzinfo=UTC)))
    assert purged.promise_rows == 2  # OLD's kept promise and its payment
    assert [p.call_id for p in broken_rows_of(book, "OLD")] == ["o2"]  # still pending: kept
    assert [p.call_id for p in broken_rows_of(book, "NEW")] == ["n1"]
    assert SqlPromiseBook(book).payments() == []

"""A callback from a number several accounts share (issue 21): what the call leaves behind
belongs to the debtor the knowledge check identified, not to the account the number was first
matched to, and an opt-out said before anyone is identified stops calls to every account of
that number.

Real parts: the shipped scripts and classifier, a SQLite records store, the opt-out journal on
disk, the records folder the erasure scans, the server's contact-history gate.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from telephony.campaign.opt_out_journal import OptOutJournal
from telephony.campaign.opt_outs import OptOuts, journal_when_heard
from voicebot.recording.call_record import CallRecorder
from voicebot.records import RecordStore, attach_session
from voicebot.records.call_files import RecordsFolder
from voicebot.records.contact_history import StoredContactHistory
from voicebot.records.models import Call
from voicebot.server import ServerSettings
from voicebot.server.compliance_gate import CallStartGate

FIRST, SECOND = "EN-EARLY-1", "EN-LATE-1"  # John Carter (1985-03-05); David Kim (1990-07-14)
INBOUND = SimpleNamespace(call_id="CA-in", direction="inbound", extra={})


def _callback(engines, accounts):
    return engines["en"].start_call(accounts[FIRST], today=CALL_DATE, inbound=True,
                                    other_accounts=[accounts[SECOND]])


def _opt_out_listener(session, tmp_path):
    opt_outs = OptOuts(None, OptOutJournal(tmp_path / "opt_outs.jsonl"))
    session.listeners.append(journal_when_heard(opt_outs, session.accounts_in_question, "media_stream"))
    return opt_outs.journal


def test_the_call_its_files_and_its_history_row_move_to_the_identified_account(engines, accounts, tmp_path):
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=tmp_path, tokens=["t"],
                              call_date=date(2026, 11, 23), contact_history=True)
    gate = CallStartGate(settings, StoredContactHistory(store))
    night = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 22:00 in Chicago
    try:
        attempt = asyncio.run(gate.admit(accounts[FIRST], INBOUND, at=night))
        session = _callback(engines, accounts)
        folder = tmp_path / "calls"
        recorder = CallRecorder(folder, session)
        session.open()
        attach_session(store, session)
        journal = _opt_out_listener(session, tmp_path)

        session.hear("July fourteenth, 1990")
        assert session.account.id == SECOND and session.policy.state.identity_confirmed
        session.hear("please stop calling me")
        summary = recorder.finish()
        gate.finish(attempt, summary)
        store.flush()

        with store.session() as db:
            call = db.get(Call, session.call_id)
            assert (call.account_id, call.debtor_name, call.stage) == (SECOND, "David Kim", "late")
        history = StoredContactHistory(store)
        (row,) = history.rows_since(SECOND, night - timedelta(days=1))
        assert row.direction == "inbound" and row.conversation
        assert history.rows_since(FIRST, night - timedelta(days=1)) == []
        assert RecordsFolder(folder).scan()[session.call_id].account_id == SECOND  # what erasure finds
        # Identified: the opt-out is the identified debtor's alone, as on a call to them.
        assert SECOND in journal and FIRST not in journal
    finally:
        gate.close()
        store.close()


def test_an_opt_out_before_anyone_is_identified_covers_every_account_of_the_number(engines, accounts, tmp_path):
    session = _callback(engines, accounts)
    session.open()
    journal = _opt_out_listener(session, tmp_path)

    turn = session.hear("stop calling this number")

    assert turn.end and not session.policy.state.identity_confirmed
    assert FIRST in journal and SECOND in journal
    assert session.accounts_in_question() == [FIRST, SECOND]


def test_an_outbound_call_opts_out_only_the_account_called(engines, accounts, tmp_path):
    session = engines["en"].start_call(accounts[FIRST], today=CALL_DATE)
    session.open()
    journal = _opt_out_listener(session, tmp_path)

    session.hear("stop calling me")

    assert session.accounts_in_question() == [FIRST]
    assert FIRST in journal and SECOND not in journal


def test_the_number_finds_its_accounts_most_overdue_first_and_a_reload_adds_new_ones(accounts, tmp_path):
    import json
    import os

    from voicebot.server.accounts import AccountBook

    def row(base: str, new_id: str, phone: str, days: int) -> dict:
        return {**accounts[base].model_dump(mode="json"), "id": new_id, "phone": phone, "days_overdue": days}

    path = tmp_path / "accounts.json"
    path.write_text(json.dumps([row(FIRST, "A", "+12065550100", 10), row(SECOND, "B", "+12065550100", 70),
                                row(FIRST, "C", "+12065550199", 10)]))
    book = AccountBook(path)
    assert [a.id for a in book.by_phone("+12065550100")] == ["B", "A"]
    assert book.by_phone("+12065550123") == []

    path.write_text(json.dumps([row(FIRST, "A", "+12065550100", 10), row(SECOND, "B", "+12065550100", 70),
                                row(FIRST, "D", "+12065550100", 200)]))
    os.utime(path, (1, 1))  # a new mtime whatever the clock's resolution
    assert [a.id for a in book.by_phone("+12065550100")] == ["D", "B", "A"]


# -- a number whose callers keep failing the knowledge check ---------------------------------


def _failed_callback(engines, accounts, store=None):
    """A callback whose caller gives two wrong dates of birth, recorded like a served call."""
    session = _callback(engines, accounts)
    session.open()
    link = attach_session(store, session) if store is not None else None
    session.hear("March sixth, 1985")
    session.hear("it's 3/7/1985")
    assert session.ended and not session.policy.state.identity_confirmed
    if link is not None:
        link.finish()
    return session


def test_a_failed_check_is_tagged_and_a_locked_callback_takes_no_answer_as_right(engines, accounts):
    assert "verification_failed" in _failed_callback(engines, accounts).result().tags

    locked = engines["en"].start_call(accounts[FIRST], today=CALL_DATE, inbound=True,
                                      other_accounts=[accounts[SECOND]], verification_locked=True)
    opening = locked.open()
    assert any(e["kind"] == "verification_locked" for e in locked.events)
    assert "date of birth" in opening.bot_text  # the same opening: a guesser is not told
    hello = locked.hear("hello? who is this?")  # no answer in it: not counted
    assert not any(e.startswith("verification_failed") for e in hello.events)
    first = locked.hear("March fifth, nineteen eighty-five")  # right, but not compared
    assert "verification_failed:1" in first.events and not locked.policy.state.identity_confirmed
    second = locked.hear("July fourteenth, 1990")  # the other account's date: not compared either
    assert second.end and locked.account.id == FIRST and not locked.policy.state.identity_confirmed
    for turn in (opening, hello, first, second):
        assert "1,250" not in turn.bot_text and "3,420" not in turn.bot_text

    outbound = engines["en"].start_call(accounts[FIRST], today=CALL_DATE, verification_locked=True)
    assert not outbound.verification_locked  # only a callback has a knowledge check to lock


def test_the_third_failed_callback_in_a_day_locks_the_number(engines, accounts, tmp_path):
    from datetime import datetime as dt

    from voicebot.server.caller_lockout import verification_locked

    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=tmp_path, tokens=["t"])
    phone = accounts[FIRST].phone
    try:
        def locked(at=None, number=phone, **changes):
            store.flush()
            return asyncio.run(verification_locked(store, number, settings.model_copy(update=changes), at))

        _failed_callback(engines, accounts, store)
        _failed_callback(engines, accounts, store)
        assert not locked()
        _failed_callback(engines, accounts, store)
        assert locked()
        assert not locked(number="+12065550199")                      # another number
        assert not locked(at=dt.now(UTC) + timedelta(hours=25))       # a day later
        assert not locked(verification_lockout_calls=0)               # switched off
        assert asyncio.run(verification_locked(None, phone, settings)) is False  # no store
    finally:
        store.close()


def test_an_account_without_the_fact_goes_to_a_person_instead_of_failing_the_caller(engines, accounts):
    """The lender sent no date of birth: no answer can match, and calling a right answer wrong
    would mislead the debtor and count toward the number's lockout. A person verifies them."""
    bare = accounts[FIRST].model_copy(update={"date_of_birth": None})
    session = engines["en"].start_call(bare, today=CALL_DATE, inbound=True)
    session.open()
    turn = session.hear("March fifth, 1985")
    assert "verification_unavailable:date_of_birth" in turn.events
    assert [a["kind"] for a in turn.actions] == ["transfer"] and "1,250" not in turn.bot_text
    result = session.result()
    assert result.outcome == "escalated" and "verification_failed" not in result.tags
    assert not session.policy.state.identity_confirmed

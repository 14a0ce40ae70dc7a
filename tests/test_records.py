"""The records store: real dialogue sessions written through the background writer into
SQLite (and PostgreSQL), what the console's queries and exports read back, console users."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, select, text

from conftest import CALL_DATE, REPO
from postgres_schema import own_schema
from dialogue.nlu.rasa_format import load_nlu_text
from voicebot.console.auth import UserError, add_user, verify
from voicebot.records import RecordStore, StoreError, attach_session
from voicebot.records.corrections import CorrectionError, correct_intent, export_corrections
from voicebot.records.models import Call, Turn
from voicebot.records.queries import CallFilter, dashboard, list_calls


def _store(tmp_path) -> RecordStore:
    return RecordStore(f"sqlite:///{tmp_path / 'records.db'}")


def _talk(engines, accounts, store, account_id, lines, **kwargs):
    session = engines["en"].start_call(accounts[account_id], today=CALL_DATE, **kwargs)
    link = attach_session(store, session, recording="/nowhere/call.wav")
    session.open()
    for line in lines:
        session.hear(line)
    return session, link


def test_turns_are_stored_as_they_happen_and_the_end_adds_outcome(engines, accounts, tmp_path):
    store = _store(tmp_path)
    session, link = _talk(engines, accounts, store, "EN-LATE-1",
                          ["yes this is David", "zzz qqq blorp", "let me talk to a real person"])
    store.flush()
    with store.session() as db:  # mid-call: every turn so far, no outcome yet
        call = db.get(Call, session.call_id)
        assert call.ended_at is None and call.outcome is None
        rows = list(db.scalars(select(Turn).where(Turn.call_id == session.call_id).order_by(Turn.index)))
    assert [(r.index, r.debtor_text, r.intent) for r in rows] == [
        (t.index, t.debtor_text, t.intent) for t in session.turns]
    threshold = session.scripts.strategy.nlu.confidence_threshold
    assert [r.low_confidence for r in rows] == [t.nlu is not None and t.nlu["confidence"] < threshold
                                                for t in session.turns]
    link.on_timing(1, {"turn_latency_ms": 812.5, "processing_ms": 300.0})
    link.finish()
    store.flush()
    result = session.result()
    with store.session() as db:
        call = db.get(Call, session.call_id)
        assert (call.outcome, call.score, call.tags) == (result.outcome, result.score, result.tags)
        assert call.escalated and call.identity_confirmed and call.connected
        assert call.handoffs and call.handoffs[0]["kind"] == "transfer"
        assert call.low_confidence == ("low_confidence" in result.tags)
        assert db.scalars(select(Turn.latency_ms).where(Turn.call_id == call.id, Turn.index == 1)).one() == 812.5
        assert call.phone == accounts["EN-LATE-1"].phone and call.recording == "/nowhere/call.wav"
    store.close()


def test_a_locked_database_never_holds_up_the_call(engines, accounts, tmp_path):
    """Another connection holds SQLite's write lock for the whole call: the session still
    runs to its end (writes wait on the writer thread), and every turn lands afterwards."""
    store = _store(tmp_path)
    blocker = create_engine(f"sqlite:///{tmp_path / 'records.db'}").connect()
    blocker.exec_driver_sql("BEGIN EXCLUSIVE")
    session, link = _talk(engines, accounts, store, "EN-EARLY-1", ["yes this is John", "I can pay it on Friday", "yes"])
    link.finish()
    assert session.ended  # the call finished while nothing could be written
    assert blocker.execute(text("SELECT COUNT(*) FROM vb_turns")).scalar() == 0
    blocker.rollback()
    blocker.close()
    store.flush()
    with store.session() as db:
        assert db.scalar(select(Call.outcome).where(Call.id == session.call_id)) == "promise_to_pay"
        assert len(db.scalars(select(Turn).where(Turn.call_id == session.call_id)).all()) == len(session.turns)
    assert store.failures == 0
    store.close()


CRASHING_CALL = textwrap.dedent("""
    import os, signal, sys, time
    from datetime import date
    sys.path.insert(0, "tests")
    from conftest import SAMPLE_ACCOUNTS
    from dialogue.accounts import load_accounts
    from dialogue.engine import engine_for
    from voicebot.records import RecordStore, attach_session
    store = RecordStore(sys.argv[1])
    account = {a.id: a for a in load_accounts(SAMPLE_ACCOUNTS)}["EN-EARLY-1"]
    session = engine_for("en").start_call(account, today=date(2026, 11, 23))
    attach_session(store, session)
    session.open()
    for line in ["yes this is John", "how much do I owe"]:
        time.sleep(0.5)  # a debtor takes seconds to answer; the writer has long committed
        session.hear(line)
    print(session.call_id, len(session.turns), flush=True)
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGKILL)  # the process dies mid-call: no flush, no close
""")


def test_a_crash_mid_call_loses_no_turn_already_spoken(tmp_path):
    url = f"sqlite:///{tmp_path / 'records.db'}"
    proc = subprocess.run([sys.executable, "-c", CRASHING_CALL, url], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    call_id, spoken = proc.stdout.split()
    store = RecordStore(url)
    with store.session() as db:
        turns = db.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.index)).all()
        assert db.get(Call, call_id).ended_at is None  # the call never ended...
    assert len(turns) == int(spoken) == 3  # ...but opening and both answers are there
    assert turns[2].debtor_text == "how much do I owe"
    store.close()


def test_postgresql_store(engines, accounts):
    """The same store on the local PostgreSQL server, in a schema of the test's own."""
    with own_schema() as pg:
        schema = pg.schema
        store = RecordStore(pg.url, schema=schema)
        session, link = _talk(engines, accounts, store, "EN-EARLY-1", ["yes this is John", "I can pay it on Friday", "yes"])
        link.finish()
        store.flush()
        with pg.admin.connect() as conn:  # really in that schema, read without the store
            stored = conn.execute(text(f'SELECT outcome, tag_text FROM "{schema}".vb_calls')).all()
            turns = conn.execute(text(f'SELECT COUNT(*) FROM "{schema}".vb_turns')).scalar()
        assert stored == [("promise_to_pay", "," + ",".join(session.result().tags) + ",")]
        assert turns == len(session.turns)
        with store.session() as db:
            assert [c.id for c in list_calls(db, CallFilter(tag="promise_to_pay", escalated=False))] == [session.call_id]
            board = dashboard(db)
            assert (board.total.placed, board.total.rpc, board.total.ptp) == (1, 1, 1)
            correct_intent(db, session.call_id, 2, "partial_payment", "sam")
            db.commit()
            exported = export_corrections(db)
        assert [(e.text, e.intent) for e in load_nlu_text(exported).examples] == [
            ("I can pay it on Friday", "partial_payment")]
        store.close()


def test_bad_input_is_refused_where_it_enters(engines, accounts, tmp_path):
    with pytest.raises(StoreError, match="bad database URL"):
        RecordStore("not a url at all")
    with pytest.raises(ValidationError, match="score_min is above score_max"):
        CallFilter(score_min=80, score_max=20)
    with pytest.raises(ValidationError):
        CallFilter.model_validate({"escalated": "perhaps"})
    store = _store(tmp_path)
    session, link = _talk(engines, accounts, store, "EN-EARLY-1", ["yes this is John"])
    store.flush()
    with store.session() as db:
        with pytest.raises(CorrectionError, match="unknown intent"):
            correct_intent(db, session.call_id, 1, "pay_with_bitcoin", "sam")
        with pytest.raises(CorrectionError, match="not something the debtor said"):
            correct_intent(db, session.call_id, 0, "affirm", "sam")
        with pytest.raises(CorrectionError, match="has no turn 9"):
            correct_intent(db, session.call_id, 9, "affirm", "sam")
    with pytest.raises(UserError, match="unknown role"):
        add_user(store, "eve", "long-enough-pw", "boss")
    with pytest.raises(UserError, match="too short"):
        add_user(store, "eve", "short", "agent")
    store.close()


def test_users_command_creates_a_hashed_first_admin(tmp_path):
    from typer.testing import CliRunner

    from voicebot.cli import app

    url = f"sqlite:///{tmp_path / 'users.db'}"
    runner = CliRunner()
    made = runner.invoke(app, ["users", "add", "root", "--database", url], input="s3cret-pass\ns3cret-pass\n")
    assert made.exit_code == 0, made.output
    again = runner.invoke(app, ["users", "add", "root", "--database", url, "--password", "other-pass-1"])
    assert again.exit_code == 2 and "already exists" in again.output
    listed = runner.invoke(app, ["users", "list", "--database", url])
    assert listed.output.split() == ["root", "supervisor"]
    store = RecordStore(url)
    assert verify(store, "root", "s3cret-pass").role == "supervisor"
    assert verify(store, "root", "wrong-pass") is None and verify(store, "nobody", "s3cret-pass") is None
    with store.session() as db:
        stored = db.execute(text("SELECT password_hash FROM vb_users")).scalar()
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    store.close()

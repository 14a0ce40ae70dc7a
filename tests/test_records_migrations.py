"""The records store's Alembic migrations, on real SQLite files and the local PostgreSQL:
a database made by the previous code (`create_all`, no alembic_version) with rows in it is
recognised as the baseline and upgraded with its rows kept; a fresh one reaches head; the
revisions build exactly what the models declare; a mismatched old database is refused
unchanged; two processes opening one fresh database at once both succeed."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, select, text
from sqlalchemy.orm import Session

import records_schema_v0 as v0
import voicebot.records
from conftest import REPO
from postgres_schema import own_schema
from telephony.contact_history import ContactAttempt
from voicebot.records.contact_history import StoredContactHistory
from voicebot.records.migrate import BASELINE, alembic_config, head
from voicebot.records.models import AuditEntry, Base, Call, Turn, User
from voicebot.records.store import RecordStore, StoreError, engine_for

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _all_models() -> MetaData:
    """Base's tables from every module of voicebot.records (promises live in their own)."""
    for info in pkgutil.iter_modules(voicebot.records.__path__):
        if not info.ispkg:
            importlib.import_module(f"voicebot.records.{info.name}")
    return Base.metadata


def _previous_schema_with_rows(engine) -> None:
    """What the previous code left: its tables (create_all) and a call, turns, a user, an audit entry."""
    v0.Base.metadata.create_all(engine)
    with Session(engine) as db:
        db.add(v0.Call(id="call-1", account_id="EN-EARLY-1", debtor_name="John Smith", phone="+13125550100",
                       locale="en", stage="early", started_at=T0, ended_at=T0 + timedelta(minutes=2),
                       outcome="promise_to_pay", score=80, tags=["promise_to_pay"], tag_text=",promise_to_pay,",
                       identity_confirmed=True, connected=True, details={"amount": 120.5}))
        db.add_all([v0.Turn(call_id="call-1", index=i, kind="debtor", debtor_text=f"line {i}", intent="affirm")
                    for i in range(3)])
        db.add(v0.User(username="sam", password_hash="$argon2id$x", role="supervisor", created_at=T0))
        db.add(v0.AuditEntry(at=T0, username="sam", action="open_call", target="call-1"))
        db.commit()


def _rows_kept(store: RecordStore) -> None:
    with store.session() as db:
        call = db.get(Call, "call-1")
        assert (call.outcome, call.score, call.details, call.tags) == ("promise_to_pay", 80, {"amount": 120.5},
                                                                       ["promise_to_pay"])
        assert [t.debtor_text for t in db.scalars(select(Turn).order_by(Turn.index))] == ["line 0", "line 1", "line 2"]
        assert db.get(User, "sam").role == "supervisor"
        assert db.scalar(select(AuditEntry.target)) == "call-1"


def _history_works(store: RecordStore) -> None:
    history = StoredContactHistory(store)
    history.record(ContactAttempt("EN-EARLY-1", "+13125550100", "call", "outbound", "server", T0))
    store.flush()
    assert store.failures == 0
    (attempt,) = history.attempts_since("EN-EARLY-1", T0 - timedelta(days=1))
    assert (attempt.at, attempt.direction) == (T0, "outbound")


def _no_drift(connection) -> list:
    """What would have to change for the database to match the models (nothing, we hope)."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, _all_models())


def test_a_database_of_the_previous_schema_keeps_its_rows_and_gains_the_history(tmp_path):
    url = f"sqlite:///{tmp_path / 'records.db'}"
    old = create_engine(url)
    _previous_schema_with_rows(old)
    old.dispose()

    store = RecordStore(url)
    assert (store.migration.before, store.migration.stamped, store.migration.after) == (None, True, head())
    _rows_kept(store)
    _history_works(store)
    store.close()

    again = RecordStore(url)  # the next start: at head, nothing runs, nothing is lost
    assert (again.migration.before, again.migration.stamped) == (head(), False)
    _rows_kept(again)
    again.close()


def test_a_fresh_database_reaches_head_and_matches_the_models(tmp_path):
    store = RecordStore(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert (store.migration.before, store.migration.after) == (None, head())
    with store.engine.connect() as conn:
        assert _no_drift(conn) == []
        assert "vb_contact_attempts" in inspect(conn).get_table_names()
    _history_works(store)
    store.close()


def test_the_baseline_is_exactly_what_the_previous_code_created(tmp_path):
    """Revision 0001 against the frozen copy of the old models: not a column, type, index or
    constraint apart (so stamping an old database 0001 is true)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'baseline.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, v0.Base.metadata) == []
    engine.dispose()


def test_an_old_database_that_is_not_the_baseline_is_refused_unchanged(tmp_path):
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    engine = create_engine(url)
    odd = MetaData()
    for table in v0.Base.metadata.sorted_tables:
        if table.name != "vb_turns":
            table.to_metadata(odd)
    Table("vb_turns", odd, Column("id", Integer, primary_key=True), Column("call_id", String(64)))
    odd.create_all(engine)
    with pytest.raises(StoreError, match=r"not the baseline 0001_baseline \(vb_turns lacks .*audio_ms"):
        RecordStore(url)
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
    assert "alembic_version" not in names and "vb_contact_attempts" not in names
    engine.dispose()


def test_two_processes_opening_one_fresh_database_at_once(tmp_path):
    """Two server replicas starting together on one new database: one migrates, the other
    waits for it and finds head (not "table already exists")."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    code = "import sys; from voicebot.records.store import RecordStore; s = RecordStore(sys.argv[1]); " \
           "print(s.migration.after); s.close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    assert [out.strip() for out, _ in outs] == [head(), head()]


def test_postgresql_previous_schema_and_fresh_schema():
    """The same on the local PostgreSQL, each in a schema of the test's own (the store's
    per-schema option): rows kept, new table in that schema, nothing in `public`; replicas
    starting at once on a fresh schema take turns."""
    with own_schema() as pg:
        old = engine_for(pg.url, pg.schema)
        _previous_schema_with_rows(old)
        old.dispose()
        store = RecordStore(pg.url, schema=pg.schema)
        assert (store.migration.stamped, store.migration.after) == (True, head())
        _rows_kept(store)
        _history_works(store)
        with pg.admin.connect() as conn:
            assert {"vb_contact_attempts", "alembic_version"} <= set(inspect(conn).get_table_names(schema=pg.schema))
            assert conn.execute(text(f'SELECT version_num FROM "{pg.schema}".alembic_version')).scalar() == head()
        store.close()
    with own_schema() as pg:
        opened: list[RecordStore] = []
        errors: list[BaseException] = []

        def open_one() -> None:
            try:
                opened.append(RecordStore(pg.url, schema=pg.schema))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        threads = [threading.Thread(target=open_one) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == [] and sorted(s.migration.before or "" for s in opened) == ["", head()]
        with pg.admin.connect() as conn:
            conn.exec_driver_sql(f'SET search_path TO "{pg.schema}"')
            assert _no_drift(conn) == []
        for store in opened:
            store.close()


def test_the_migrate_command_says_where_a_database_stands(tmp_path):
    from typer.testing import CliRunner

    from voicebot.cli import app

    runner = CliRunner()
    before = runner.invoke(app, ["records", "migrate", "--records", str(tmp_path), "--status"])
    assert before.exit_code == 1 and "at no revision" in before.output
    done = runner.invoke(app, ["records", "migrate", "--records", str(tmp_path)])
    assert done.exit_code == 0 and f"empty -> {head()}" in done.output
    after = runner.invoke(app, ["records", "migrate", "--records", str(tmp_path), "--status"])
    assert after.exit_code == 0 and f"at {head()}" in after.output

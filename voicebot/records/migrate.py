"""Bringing a records database to the schema this code expects: Alembic's `upgrade head`, run
each time a `RecordStore` opens (and by `voicebot records migrate`).

Why on open: the server, the campaign worker and the CLI all open the store, and any of them
may be the first to run a new release; a database one revision behind would fail at the first
write of a new column.  Three cases:

- a fresh database: every revision runs, from `0001_baseline`;
- a database made before migrations existed (tables from `create_all`, no `alembic_version`):
  its tables and columns are checked against the baseline, it is stamped `0001_baseline`, then
  upgraded; its rows stay where they are (a database that does not match is refused, naming
  what differs, and nothing is changed);
- a database at some revision: the later revisions run; at head nothing does.

Two processes opening one database at once (two server replicas on one PostgreSQL, the server
and a campaign worker on one SQLite file) take turns: PostgreSQL through an advisory lock held
for the transaction, SQLite through an exclusive transaction; the second finds the work done.
DDL runs in that one transaction on both, so a migration that fails leaves the schema as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001_baseline"
VERSION_TABLE = "alembic_version"
LOCK_KEY = 7_301_998_415  # pg_advisory_xact_lock key of "migrating the records store"


class SchemaMismatch(RuntimeError):
    """Tables made before migrations that are not the baseline's; the message says what differs."""


@dataclass(frozen=True)
class Migration:
    """What opening the store did to its schema."""

    before: str | None   # revision found (None: fresh, or made before migrations)
    after: str           # revision now (the head)
    stamped: bool        # a database from before migrations was recognised as the baseline

    def describe(self) -> str:
        if self.stamped:
            return f"tables from before migrations recognised as {BASELINE}, upgraded to {self.after}"
        if self.before == self.after:
            return f"at {self.after}, nothing to do"
        return f"{self.before or 'empty'} -> {self.after}"


def alembic_config(connection: Connection | None = None, schema: str | None = None) -> Config:
    """The migrations' configuration, built in code (no alembic.ini needed at run time)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def revision_of(connection: Connection, schema: str | None = None) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table_schema": schema})
    return context.get_current_revision()


@contextmanager
def locked(connection: Connection, schema: str | None) -> Iterator[None]:
    """One transaction that only one process at a time holds for migrating, committed at the
    end (rolled back if anything in it fails).  On PostgreSQL with a schema, unqualified names
    in ALTER statements resolve to it for the transaction (`SET LOCAL search_path`)."""
    dialect = connection.dialect.name
    with connection.begin():
        if dialect == "sqlite":
            # pysqlite opens no transaction for DDL on its own: this one makes the revision and
            # its version row one unit, and keeps a second process out until it commits.
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
        elif dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            if schema:
                quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
                connection.exec_driver_sql(f"SET LOCAL search_path TO {quoted}")
        yield


@cache
def baseline_shape() -> dict[str, frozenset[str]]:
    """Table -> column names of the baseline revision, read from an in-memory database built by
    running it: the revision file stays the one definition of the baseline."""
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), BASELINE)
            found = inspect(connection)
            return {name: frozenset(c["name"] for c in found.get_columns(name))
                    for name in found.get_table_names() if name != VERSION_TABLE}
    finally:
        engine.dispose()


def _check_baseline(connection: Connection, schema: str | None, tables: set[str]) -> None:
    found = inspect(connection)
    problems = []
    for name, columns in sorted(baseline_shape().items()):
        if name not in tables:
            problems.append(f"no table {name}")
            continue
        missing = columns - {c["name"] for c in found.get_columns(name, schema=schema)}
        if missing:
            problems.append(f"{name} lacks {', '.join(sorted(missing))}")
    if problems:
        raise SchemaMismatch(f"its tables predate migrations but are not the baseline {BASELINE} "
                             f"({'; '.join(problems)}); nothing was changed")


LOCKED_WAIT_S = 30.0  # a SQLite file another process holds at start: how long to keep trying


def upgrade(engine: Engine, schema: str | None = None) -> Migration:
    """Bring the database behind `engine` (its tables in `schema`, if given) to the head
    revision; SchemaMismatch for pre-migration tables that are not the baseline.

    A new SQLite file that another process is switching to WAL or migrating at that moment
    can answer "database is locked" without waiting on its busy timeout (a lock upgrade
    SQLite refuses at once rather than risk a deadlock): the whole attempt, rolled back, is
    tried again until LOCKED_WAIT_S has passed."""
    deadline = time.monotonic() + LOCKED_WAIT_S
    while True:
        try:
            return _upgrade_once(engine, schema)
        except OperationalError as exc:
            if engine.dialect.name != "sqlite" or "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _upgrade_once(engine: Engine, schema: str | None) -> Migration:
    with engine.connect() as connection, locked(connection, schema):
        before = revision_of(connection, schema)
        stamped = False
        if before is None:
            tables = set(inspect(connection).get_table_names(schema=schema))
            if tables & set(baseline_shape()):
                _check_baseline(connection, schema, tables)
                command.stamp(alembic_config(connection, schema), BASELINE)
                stamped = True
        command.upgrade(alembic_config(connection, schema), "head")
        after = revision_of(connection, schema) or ""
    return Migration(before, after, stamped)


def status(engine: Engine, schema: str | None = None) -> tuple[str | None, str]:
    """(the database's revision, the code's head), without changing anything."""
    with engine.connect() as connection:
        return revision_of(connection, schema), head()

"""The records store: a SQL database written by one background thread.

Why a thread: a call's turn listeners run inside the audio loop, and a database write (an
fsync on SQLite, a round trip to PostgreSQL) must never delay the bot's reply.  Listeners only
put a small closure on a queue; the writer applies them in order and commits each one, so
every turn already spoken is on disk even if the process dies mid-call.  Readers (the console)
open their own sessions from the same engine.

A database that is away (a restart, a dropped connection, a full disk, a lock held too long)
fails a write with an OperationalError: that write is tried again, with a growing pause, for up
to `retry_for_s`, and the ones queued after it wait, so they still land in order; a write that
is wrong in itself (a constraint, a bug) is logged and dropped at once, as before.  While the
database is away `unavailable` says why (for /health).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from voicebot.records.migrate import Migration, SchemaMismatch, upgrade

log = logging.getLogger(__name__)

Write = Callable[[Session], None]
RETRY_FIRST_S = 0.2   # first pause before a write is tried again
RETRY_MAX_S = 10.0    # longest pause between tries
RETRY_FOR_S = 600.0   # a write is given up after this long (the call's JSONL record keeps it)


class StoreError(ValueError):
    """The database URL is unusable; the message names it (without its password)."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def engine_for(url: str, schema: str | None) -> Engine:
    """An engine for `url` (PostgreSQL through psycopg 3; SQLite readers never wait for the
    writer), every table in `schema` when one is given; StoreError naming a bad URL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"bad database URL {url!r}: {exc}") from None
    kwargs: dict = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    elif parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver this project ships
    try:
        engine = create_engine(parsed, **kwargs)
    except Exception as exc:  # missing driver, bad option: say which URL
        raise StoreError(f"cannot use database {parsed.render_as_string(hide_password=True)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # readers never wait for the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    if schema:
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


class RecordStore:
    """`RecordStore("sqlite:///var/calls/records.db")`; `schema` puts every table in one
    PostgreSQL schema (tests, or several deployments sharing a database).  Opening it migrates
    the database to the schema this code expects; `create=False` opens it as it is (reading
    another deployment's records)."""

    def __init__(self, url: str, *, schema: str | None = None, create: bool = True,
                 retry_for_s: float = RETRY_FOR_S):
        self.url = url
        self.retry_for_s = retry_for_s
        self.unavailable: str | None = None  # why writes are waiting, while the database is away
        self._closing = False
        self.engine = engine_for(url, schema)
        self.description = self.engine.url.render_as_string(hide_password=True)
        self.schema = schema
        self.migration: Migration | None = None
        if create:  # the schema this code expects: Alembic's upgrade head (voicebot/records/migrate.py)
            try:
                self.migration = upgrade(self.engine, schema)
            except SchemaMismatch as exc:
                raise StoreError(f"records store {self.description}: {exc}") from None
            if self.migration.before != self.migration.after:
                log.warning("records store %s: schema %s", self.description, self.migration.describe())
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._queue: queue.Queue[Write | None] = queue.Queue()
        self.failures = 0
        self.last_error: str | None = None
        self.failure_listeners: list[Callable[[str], None]] = []  # told of each write given up (/metrics)
        self._thread = threading.Thread(target=self._run, name="records-writer", daemon=True)
        self._thread.start()

    # -- writing (any thread; never blocks) ------------------------------------------------
    def submit(self, write: Write) -> None:
        """Queue a write; it runs on the writer thread and is committed on its own."""
        if not self._thread.is_alive():
            raise RuntimeError(f"records store {self.description} is closed")
        self._queue.put(write)

    def _run(self) -> None:
        while (write := self._queue.get()) is not None:
            try:
                self._apply(write)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _apply(self, write: Write) -> None:
        delay, give_up_at = RETRY_FIRST_S, time.monotonic() + self.retry_for_s
        while True:
            try:
                with self._sessions() as session:
                    write(session)
                    session.commit()
            except (OperationalError, InterfaceError) as exc:  # the database, not the write
                reason = f"{type(exc).__name__}: {exc.orig if exc.orig is not None else exc}"
                if self.unavailable is None:
                    log.error("records store %s: unavailable (%s); writes wait and are tried again",
                              self.description, reason)
                self.unavailable = reason
                if self._closing or time.monotonic() + delay > give_up_at:
                    self._failed(exc)
                    return
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            except Exception as exc:  # one bad write must not stop the ones after it
                self._failed(exc)
                return
            if self.unavailable is not None:
                log.warning("records store %s: available again", self.description)
                self.unavailable = None
            return

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.error("records store %s: write failed: %s", self.description, self.last_error, exc_info=exc)
        for listener in self.failure_listeners:
            listener(self.last_error)

    def flush(self) -> None:
        """Wait until every queued write is committed (tests, shutdown, before a read that
        must see a write just made)."""
        self._queue.join()

    def close(self) -> None:
        self._closing = True  # a write waiting for an away database is tried once more, not for minutes
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)
        self.engine.dispose()

    # -- reading (the caller's thread) ------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def write_now(self, write: Write) -> None:
        """Apply a write synchronously (console actions: a correction, a new user)."""
        with self._sessions() as session:
            write(session)
            session.commit()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

"""The records store: a SQL database written by one background thread.

Why a thread: a call's turn listeners run inside the audio loop, and a database write (an
fsync on SQLite, a round trip to PostgreSQL) must never delay the bot's reply.  Listeners only
put a small closure on a queue; the writer applies them in order and commits each one, so
every turn already spoken is on disk even if the process dies mid-call.  Readers (the console)
open their own sessions from the same engine.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from voicebot.records.models import Base

log = logging.getLogger(__name__)

Write = Callable[[Session], None]


class StoreError(ValueError):
    """The database URL is unusable; the message names it (without its password)."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def _engine(url: str, schema: str | None) -> Engine:
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
    PostgreSQL schema (tests, or several deployments sharing a database)."""

    def __init__(self, url: str, *, schema: str | None = None, create: bool = True):
        self.url = url
        self.engine = _engine(url, schema)
        self.description = self.engine.url.render_as_string(hide_password=True)
        if create:
            Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._queue: queue.Queue[Write | None] = queue.Queue()
        self.failures = 0
        self.last_error: str | None = None
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
                with self._sessions() as session:
                    write(session)
                    session.commit()
            except Exception as exc:  # one bad write must not stop the ones after it
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("records store %s: write failed", self.description)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def flush(self) -> None:
        """Wait until every queued write is committed (tests, shutdown, before a read that
        must see a write just made)."""
        self._queue.join()

    def close(self) -> None:
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

"""A schema of the test's own on the local PostgreSQL, so tests share one server without
seeing each other's tables, and leave nothing behind (the schema is dropped at the end)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, text

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class OwnSchema:
    url: str       # for RecordStore (postgresql://, psycopg 3 is chosen by the store)
    schema: str
    admin: Engine  # a connection of the test's own, to read tables without the store


@contextmanager
def own_schema() -> Iterator[OwnSchema]:
    """Create the schema (the test fails, naming the URL, if PostgreSQL is not usable), yield
    it, drop it with everything in it."""
    url = os.environ.get("VOICEBOT_TEST_POSTGRES", DEFAULT_URL)
    schema = f"vb_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {url} is not usable: {exc}")
    try:
        yield OwnSchema(url, schema, admin)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

"""Alembic's entry point for the records store.

The store runs it on a connection of its own (voicebot/records/migrate.py puts it in
`config.attributes`, with the PostgreSQL schema when the store has one), inside a transaction
it holds a lock on.  The `alembic` command runs it on `-x url=...` (else
$VOICEBOT_DATABASE_URL), optionally `-x schema=...`, to write or try a revision.
"""

from __future__ import annotations

import importlib
import pkgutil

from alembic import context
from sqlalchemy.engine import Connection

import voicebot.records
from voicebot.records.models import Base

config = context.config
# Tables live in models.py and in modules of their own (promises.py): import every module of
# the package, so autogenerate compares the whole of Base.metadata.
for _module in pkgutil.iter_modules(voicebot.records.__path__):
    if not _module.ispkg:
        importlib.import_module(f"voicebot.records.{_module.name}")


def run(connection: Connection, schema: str | None) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, version_table_schema=schema,
                      compare_type=True, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_from_command_line() -> None:
    from voicebot.config import current
    from voicebot.records.migrate import locked
    from voicebot.records.store import engine_for

    args = context.get_x_argument(as_dictionary=True)
    url = args.get("url") or current().database_url
    if not url:
        raise SystemExit("give the records database as -x url=... (or VOICEBOT_DATABASE_URL)")
    schema = args.get("schema") or None
    engine = engine_for(url, schema)
    try:
        with engine.connect() as connection, locked(connection, schema):
            run(connection, schema)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the records store's migrations run against a database (no --sql mode)")
if config.attributes.get("connection") is not None:
    run(config.attributes["connection"], config.attributes.get("schema"))
else:
    run_from_command_line()

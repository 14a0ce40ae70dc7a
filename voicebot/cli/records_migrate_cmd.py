"""`voicebot records migrate`: bring the records database to this release's schema now.

Every process that opens the store migrates it anyway (voicebot/records/migrate.py); an
operator runs this before rolling out a release (one step in a deploy, its output in the
deploy's log) or with `--status` to see where a database stands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from voicebot.cli.records_cmd import records_app
from voicebot.cli.users_cmd import DATABASE_HELP


@records_app.command("migrate")
def migrate(
    database: str = typer.Option(None, envvar="VOICEBOT_DATABASE_URL", help=DATABASE_HELP),
    records: Path = typer.Option(Path("var/calls"), help="records folder (for the default database)"),
    schema: str = typer.Option(None, help="PostgreSQL schema holding the tables (as the store's `schema`)"),
    status: bool = typer.Option(False, "--status", help="only say which revision the database is at"),
) -> None:
    """Apply the records store's migrations (Alembic `upgrade head`); a database made before
    migrations is recognised as the baseline, its rows kept."""
    from voicebot.records.migrate import SchemaMismatch, status as revision_status, upgrade
    from voicebot.records.store import StoreError, engine_for

    url = database or f"sqlite:///{(records / 'records.db').resolve()}"
    try:
        engine = engine_for(url, schema)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    where = engine.url.render_as_string(hide_password=True)
    try:
        if status:
            current, head = revision_status(engine, schema)
            typer.echo(f"records store {where}: at {current or 'no revision'}, this release's head {head}")
            raise typer.Exit(0 if current == head else 1)
        done = upgrade(engine, schema)
    except SchemaMismatch as exc:
        typer.echo(f"error: records store {where}: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"records store {where}: {done.describe()}")

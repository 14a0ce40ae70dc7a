"""`voicebot users ...`: console accounts (the first supervisor is made here, not on the web)."""

from __future__ import annotations

from pathlib import Path

import typer

users_app = typer.Typer(no_args_is_help=True, help="Console users: add the first admin, list, reset.")

DATABASE_HELP = ("records store URL (SQLAlchemy: sqlite:///..., postgresql://...); default "
                 "var/calls/records.db, the file `voicebot serve` uses with its default --records")


def open_store(database: str | None, records: Path):
    """The records store at `database`, else RECORDS/records.db; exit 2 naming a bad URL."""
    from voicebot.records.store import RecordStore, StoreError

    url = database or f"sqlite:///{(records / 'records.db').resolve()}"
    try:
        return RecordStore(url)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@users_app.command()
def add(username: str = typer.Argument(..., help="sign-in name"),
        role: str = typer.Option("supervisor", help="supervisor | script_designer | agent"),
        password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                     envvar="VOICEBOT_USER_PASSWORD", help="prompted for when not given"),
        replace: bool = typer.Option(False, help="reset the password and role of an existing user"),
        database: str = typer.Option(None, envvar="VOICEBOT_DATABASE_URL", help=DATABASE_HELP),
        records: Path = typer.Option(Path("var/calls"), help="records folder (for the default database)")) -> None:
    """Create a console user (the password is stored as an argon2 hash)."""
    from voicebot.console.auth import UserError, add_user

    store = open_store(database, records)
    try:
        add_user(store, username, password, role, replace=replace)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    typer.echo(f"user {username} ({role}) saved in {store.description}")


@users_app.command("list")
def list_(database: str = typer.Option(None, envvar="VOICEBOT_DATABASE_URL", help=DATABASE_HELP),
          records: Path = typer.Option(Path("var/calls"), help="records folder (for the default database)")) -> None:
    """Console users and their roles."""
    from voicebot.console.auth import list_users

    store = open_store(database, records)
    try:
        for name, role in list_users(store):
            typer.echo(f"{name}\t{role}")
    finally:
        store.close()

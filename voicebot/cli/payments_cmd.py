"""`voicebot payments ...`: the lender's payments feed into the promise book, and the book itself.

`import` reads a CSV (account_id, amount, paid_at, reference; optional currency), adds each
payment once (its reference: importing the same file twice adds nothing), reports every bad
row by its line without stopping the good ones, and judges the touched accounts' promises
(kept, partly kept, broken: dialogue/promises.py).  The server takes the same rows on
POST /payments (voicebot/server/payments_api.py).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from voicebot import config
from voicebot.cli.users_cmd import DATABASE_HELP, open_store

payments_app = typer.Typer(no_args_is_help=True, help="Payments feed and promise book: import payments, "
                                                      "list promises and their state.")

AT_HELP = "judge promises as of this ISO instant (a virtual-time campaign's clock); default now"
GRACE_HELP = ("how late a payment may be and still keep its promise, e.g. 1d (default: "
              "$VOICEBOT_PROMISE_GRACE, else none)")


def _instant(text: str | None) -> datetime:
    from telephony.campaign.clock import SystemClock, parse_instant

    try:
        return parse_instant(text) if text else SystemClock().now()
    except ValueError as exc:
        typer.echo(f"error: bad time {text!r}: {exc}", err=True)
        raise typer.Exit(2) from None


def _grace(text: str | None):
    from telephony.campaign.config import parse_duration

    try:
        return parse_duration(text) if text else config.current().promise_grace
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@payments_app.command("import")
def import_payments(
    file: Path = typer.Argument(..., help="CSV with account_id, amount, paid_at, reference (currency optional)"),
    database: str = typer.Option(None, envvar="VOICEBOT_DATABASE_URL", help=DATABASE_HELP),
    records: Path = typer.Option(Path("var/calls"), help="records folder (for the default database)"),
    at: str = typer.Option(None, help=AT_HELP),
    grace: str = typer.Option(None, help=GRACE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Add the payments of a CSV file (idempotent on reference); bad rows are listed, not added."""
    from voicebot.records.payments import PaymentsError, add_payments, judge_after, read_csv

    now, grace_period = _instant(at), _grace(grace)
    try:
        good, bad = read_csv(file)
    except PaymentsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    store = open_store(database, records)
    try:
        result = add_payments(store, good, "csv", now)
        result.errors = bad + result.errors
        judge_after(store, result, {p.account_id for _, p in good}, now, grace_period)
    finally:
        store.close()
    if as_json:
        print(json.dumps({"file": str(file), **result.to_dict()}, ensure_ascii=False))
    else:
        for error in result.errors:
            typer.echo(f"{file}: {error.where}: {error.message}", err=True)
        states = ", ".join(f"{n} {s}" for s, n in sorted(result.judged.items())) or "no promises"
        typer.echo(f"{len(result.added)} added, {len(result.duplicates)} already recorded, "
                   f"{len(result.errors)} refused; their accounts' promises: {states}")
    if result.errors:
        raise typer.Exit(1)


@payments_app.command("promises")
def promises(
    account: str = typer.Option(None, help="one account's promises"),
    state: str = typer.Option(None, help="pending | kept | paid_late | partly_kept | broken"),
    database: str = typer.Option(None, envvar="VOICEBOT_DATABASE_URL", help=DATABASE_HELP),
    records: Path = typer.Option(Path("var/calls"), help="records folder (for the default database)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The promise book as it stands (states as last judged by a campaign round or an import)."""
    from voicebot.records.promise_book import SqlPromiseBook

    store = open_store(database, records)
    try:
        rows = [r for r in SqlPromiseBook(store).promises([account] if account else None)
                if state is None or r.state == state]
    finally:
        store.close()
    if as_json:
        print(json.dumps([{**r.__dict__, "promised_on": r.promised_on.isoformat(), "made_on": r.made_on.isoformat(),
                           **{k: (v.isoformat() if v else None) for k, v in
                              (("reminded_at", r.reminded_at), ("followed_up_at", r.followed_up_at),
                               ("escalated_at", r.escalated_at))}} for r in rows], ensure_ascii=False))
        return
    table = Table("account", "made", "promised", "amount", "paid", "state", "stage", "follow-up")
    for r in rows:
        steps = [n for n, v in (("reminded", r.reminded_at), ("called", r.followed_up_at),
                                ("escalated", r.escalated_at)) if v]
        table.add_row(r.account_id, str(r.made_on), str(r.promised_on), f"{r.amount:.2f} {r.currency or ''}",
                      f"{r.paid:.2f}", r.state, r.stage, ", ".join(steps))
    console = Console(highlight=False, width=max(Console().width, 120))  # dates and amounts unbroken
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in sorted(Counter(r.state for r in rows).items())) or "no promises")

"""`voicebot compliance ...`: may these accounts be called now, and if not, which rule says no.

A supervisor runs `check` before a campaign (or an auditor after one, with `--at` and the
attempt history) to see the contact rules' answer per account, the same answer the campaign
worker and the media-stream server get from dialogue.compliance.rules.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dialogue.accounts import AccountError, load_accounts
from dialogue.compliance import ProfileError, available_profiles, load_profile
from dialogue.compliance.profile import HolidayRules
from dialogue.compliance.rules import Attempt, Decision, debtor_time, may_call

compliance_app = typer.Typer(no_args_is_help=True, help="Contact rules per jurisdiction.")

_TRUE = {"1", "true", "yes", "y"}


def _instant(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not an ISO 8601 time such as 2026-11-23T09:00-08:00") from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _flag(value: object) -> bool:
    return value is True or str(value).strip().lower() in _TRUE


def read_history(path: Path) -> dict[str, list[Attempt]]:
    """Attempts per account from CSV (account,at,connected,conversation[,number]) or JSON lines
    with the same keys; a bad row fails here with the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise typer.BadParameter(f"{path}: history file not found") from None
    if path.suffix.lower() == ".csv":
        rows = list(enumerate(csv.DictReader(text.splitlines()), start=2))
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise typer.BadParameter(f"{path}:{number}: not JSON ({exc.msg})") from None
    out: dict[str, list[Attempt]] = {}
    for number, row in rows:
        if not isinstance(row, dict) or not row.get("account") or not row.get("at"):
            raise typer.BadParameter(f"{path}:{number}: each attempt needs `account` and `at`")
        try:
            at = _instant(str(row["at"]), f"{path}:{number}: at")
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        connected = _flag(row.get("connected", False))
        attempt = Attempt(at, connected, connected and _flag(row.get("conversation", False)), row.get("number") or None)
        out.setdefault(str(row["account"]), []).append(attempt)
    return out


def stored_history(database: str | None, records: Path) -> Callable[[str, datetime], list[Attempt]] | None:
    """Each account's attempts in the records store's contact history up to an instant (the
    store opened once, read-only use); None when no database is named and the default is absent."""
    if database is None and not (records / "records.db").is_file():
        return None
    from telephony.contact_history import LOOKBACK
    from voicebot.cli.users_cmd import open_store
    from voicebot.records.contact_history import StoredContactHistory

    history = StoredContactHistory(open_store(database, records))
    return lambda account_id, at: history.attempts_since(account_id, at - LOOKBACK)


def _local(at: datetime | None, zones: tuple[str, ...]) -> str:
    if at is None:
        return "never" if zones else ""
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo(zones[0])).strftime("%a %d %b %H:%M %Z") if zones else at.isoformat()


def decision_table(rows: list[tuple[str, str, Decision]], at: datetime) -> Table:
    table = Table(title=f"contact rules at {at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC")
    for column in ("account", "jurisdiction", "local time", "may call", "rule", "reason", "next allowed (local)"):
        table.add_column(column)
    for account_id, local_now, d in rows:
        table.add_row(account_id, d.jurisdiction or "?", local_now, "[green]yes[/]" if d.allowed else "[red]no[/]",
                      d.rule or "", "" if d.allowed else d.reason,
                      "" if d.allowed else _local(d.next_allowed_at, d.zones))
    allowed = sum(d.allowed for _, _, d in rows)
    table.caption = f"{allowed} of {len(rows)} accounts may be called now"
    return table


@compliance_app.command()
def check(
    accounts_file: Path = typer.Argument(..., help="accounts (CSV or JSON)"),
    at: str | None = typer.Option(None, "--at", help="instant to judge (ISO 8601, default now)"),
    history: Path | None = typer.Option(None, "--history", help="earlier attempts (CSV or JSON lines)"),
    opted_out: str = typer.Option("", "--opted-out", help="comma-separated account ids that opted out"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per account instead of a table"),
    database: str | None = typer.Option(None, envvar="VOICEBOT_DATABASE_URL",
                                        help="records store whose contact history (every campaign dial, "
                                             "server call, call in, text) the rules count; default "
                                             "RECORDS/records.db when it exists"),
    records: Path = typer.Option(Path("var/calls"), help="records folder (for the default database)"),
) -> None:
    """May each account be called at --at? If not: the rule, why, and the next allowed time.

    The attempts counted are the contact history in the records store, as the campaign worker
    and the server count them, plus any --history file."""
    try:
        when = _instant(at, "--at") if at else datetime.now(timezone.utc)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        accounts = load_accounts(accounts_file)
    except AccountError as exc:
        raise typer.BadParameter(str(exc)) from None
    past = read_history(history) if history else {}
    stored = stored_history(database, records)
    stopped = {part.strip() for part in opted_out.split(",") if part.strip()}
    rows = []
    for account in accounts:
        attempts = past.get(account.id, []) + (stored(account.id, when) if stored else [])
        decision = may_call(account, attempts, when, opted_out=account.id in stopped)
        debtor = debtor_time(account)
        local_now = debtor.local(when).strftime("%a %H:%M %Z") if debtor.known else "?"
        rows.append((account.id, local_now, decision))
    if as_json:
        for account_id, _, d in rows:
            typer.echo(json.dumps({"account": account_id, **d.to_dict()}, ensure_ascii=False))
        return
    Console(width=160).print(decision_table(rows, when))


def _holidays(rules: HolidayRules) -> str:
    """"US + subdivision +2 -1" (generated for a country, days added and removed), or "12 listed"."""
    if rules.country is None:
        return f"{len(rules.add)} listed"
    extra = "".join(f" {sign}{len(days)}" for sign, days in (("+", rules.add), ("-", rules.remove)) if days)
    kinds = "".join(f" + {kind}" for kind, on in (("subdivision", rules.subdivisions),
                                                   ("whole breaks", rules.whole_breaks)) if on)
    return rules.country + kinds + extra


@compliance_app.command()
def profiles(name: str | None = typer.Argument(None, help="show one profile in full")) -> None:
    """List the jurisdiction profiles (scripts/jurisdictions/*.yaml), or show one."""
    console = Console(width=160)
    names = [name] if name else available_profiles()
    table = Table(title="jurisdiction profiles")
    for column in ("name", "title", "window", "holidays", "limits", "disclosures", "voicemail"):
        table.add_column(column)
    for each in names:
        try:
            p = load_profile(each)
        except ProfileError as exc:
            raise typer.BadParameter(str(exc)) from None
        limits = ", ".join(f"{k}={v}" for k, v in p.limits.model_dump().items() if v is not None)
        table.add_row(p.name, p.title, f"{p.calling_window.start:%H:%M}-{p.calling_window.end:%H:%M}",
                      _holidays(p.holidays), limits, ", ".join(p.required_disclosures), p.voicemail)
    console.print(table)

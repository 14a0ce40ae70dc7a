"""`voicebot records ...`: a retention purge, and erasing one debtor's data on request.

`purge` is what a scheduler runs (`voicebot serve` also purges once a day on its own); `erase`
is what the data-protection officer runs for a right-to-erasure request.  Both remove the same
things, from the records database, the records folder, the live bus's handoff packets, the
server's handoff outbox (packets the bus could not take, in the records folder) and the
campaigns' SMS store and outboxes (an erasure also the account in the campaign store), and both
say what they removed.  Neither ever touches the opt-outs (see voicebot/records/retention.py).

The campaigns' stores are opened as `voicebot campaign` opens them: on `--redis` with
`--campaign-prefix`, else from its state file; run a purge or an erasure while no campaign runs
without Redis (such a run saves its whole state at its end, over what was removed meanwhile).
"""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from voicebot import config
from voicebot.cli.users_cmd import DATABASE_HELP, open_store

if TYPE_CHECKING:
    from telephony.bus.base import Bus
    from voicebot.records.retention import CampaignData, RemovalReport

records_app = typer.Typer(no_args_is_help=True,
                          help="Call records: purge those past the retention period, erase one debtor's.")

RECORDS_HELP = "records folder (JSONL, JSON, WAV; and records.db unless --database)"
REDIS_HELP = ("Redis of the live bus and of the campaigns (REDIS_URL): its decided handoff packets and "
              "the campaigns' SMS and accounts go too; without it packets are not checked, and the "
              "campaigns' state file is")
PREFIX_HELP = "the live bus's key prefix (VOICEBOT_BUS_PREFIX)"
CAMPAIGN_PREFIX_HELP = "the campaigns' key prefix on --redis (`voicebot campaign --prefix`)"
CAMPAIGN_STATE_HELP = ("the campaigns' state file without --redis (default: campaign/state.json beside the "
                       "records folder, i.e. `voicebot campaign`'s var/campaign/state.json for var/calls)")
OUTBOX_HELP = ("SMS outbox file, swept if it exists (default: sms/outbox.jsonl beside the records folder, "
               "i.e. `voicebot campaign`'s var/sms/outbox.jsonl for var/calls)")
CAMPAIGN_PREFIX = "voicebot"  # telephony.campaign's default prefix
SMS_KINDS = {"pending": "SMS waiting to go", "done": "SMS sent/cancelled marks",
             "sent": "SMS send times (weekly cap)", "first_reminder": "SMS first-reminder dates"}
CAMPAIGN_KINDS = {"accounts": "campaign accounts (name, phone, debt)", "states": "campaign account states",
                  "calls": "campaign call-log entries", "paid": "paid flags"}
BUS_PREFIX = "voicebot:"  # telephony.bus.redis_bus.DEFAULT_PREFIX, without importing redis for --help
FILE_KINDS = {".jsonl": "call records (.jsonl)", ".json": "call summaries (.json)", ".wav": "recordings (.wav)",
              ".json.tmp": "unfinished summaries (.json.tmp)"}


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):  # no name for this uid (a container)
        return "cli"


def _folder(records: Path) -> Path:
    if not records.is_dir():
        typer.echo(f"error: records folder {records} not found", err=True)
        raise typer.Exit(2)
    return records


def _campaign_data(records: Path, redis: str | None, prefix: str, state: Path | None,
                   outbox: Path | None) -> "CampaignData":
    """The campaigns' stores and SMS outboxes: on Redis its outbox stream, and the outbox file
    a run with --outbox may have written; without Redis the state file and the outbox file."""
    from telephony.backend import open_backend
    from telephony.campaign.store import StoreUnavailable
    from telephony.sms.outbox import FileOutbox
    from voicebot.records.retention import CampaignData

    state = state or records.parent / "campaign" / "state.json"
    outbox_file = FileOutbox(outbox or records.parent / "sms" / "outbox.jsonl")
    try:
        backend = open_backend(redis, prefix, state if state.is_file() else None, None if redis else outbox_file.path)
    except StoreUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    where = (backend.where if redis else f"state file {state}" + ("" if state.is_file() else " (none)"))
    where += f", outbox file {outbox_file.path}" + ("" if outbox_file.path.is_file() else " (none)")
    return CampaignData.of(backend, where, [outbox_file] if redis else [])


async def _with_bus(redis: str | None, prefix: str, work) -> "RemovalReport":
    """Run `work(bus)` with the Redis bus if one is named (checked first), else with None."""
    if not redis:
        return await work(None)
    from telephony.bus.base import BusError
    from telephony.bus.redis_bus import RedisBus

    bus: Bus = RedisBus(redis, prefix=prefix)
    try:
        await bus.check()
        return await work(bus)
    except BusError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        await bus.aclose()


def show(report: "RemovalReport", console: Console | None = None) -> None:
    """The report as a table of counts, then what was kept and why."""
    console = console or Console(width=120)
    verb = "would remove" if report.dry_run else "removed"
    table = Table(title=f"{verb}: {report.scope}")
    table.add_column("what")
    table.add_column(verb, justify="right")
    table.add_row("calls (database rows)", str(report.calls))
    table.add_row("turns (database rows)", str(report.turns))
    for suffix, count in report.files.by_kind().items():
        table.add_row(FILE_KINDS.get(suffix, suffix), str(count))
    packets = report.packets
    table.add_row("handoff packets", str(len(packets.removed)) if packets is not None
                  else "not checked" + ("" if report.packets_error else " (no --redis)"))
    table.add_row("handoff packets in the outbox (on disk)",
                  "not checked" if report.outbox is None else str(len(report.outbox)))
    _campaign_rows(table, report)
    console.print(table)
    if report.packets_error:
        console.print(f"[red]handoff packets not checked[/]: {report.packets_error}")
    if report.outbox_error:
        console.print(f"[red]handoff outbox not checked[/]: {report.outbox_error}")
    if report.campaign_error:
        console.print(f"[red]SMS and campaign data not (all) checked[/]: {report.campaign_error}")
    elif report.campaign_data:
        console.print(f"SMS and campaign data: {report.campaign_data}")
    if report.campaign is not None and report.campaign.in_call:
        console.print(f"[yellow]a call of this account is on the line now[/] (lease {report.campaign.in_call}): "
                      "its end writes a campaign state and call-log entry again; erase again after it")
    for path, reason in report.files.refused:
        console.print(f"[yellow]left in place[/]: {path}: {reason}")
    if packets is not None and packets.kept_waiting:
        console.print(f"[yellow]kept[/] {len(packets.kept_waiting)} handoff packet(s) still waiting for an "
                      "agent (their calls may be on hold now): "
                      + ", ".join(f"{q}/{c}" for q, c in packets.kept_waiting))
    if report.contact_attempts:
        erased = report.scope.startswith("account")
        console.print(f"contact history: {report.contact_attempts} attempt(s) "
                      + ("with their phone numbers cleared (the attempts stay: the caps count them)" if erased
                         else "older than the cut-off and the contact rules' look-back ")
                      + ("" if erased else ("would go" if report.dry_run else "removed")))
    if report.promise_rows:
        console.print(f"promise book: {report.promise_rows} promise(s) and payment(s) "
                      + ("would go" if report.dry_run else "removed"))
    if report.audit_scrubbed:
        console.print(f"{'would mask' if report.dry_run else 'masked'} phone numbers in "
                      f"{report.audit_scrubbed} older audit entr{'y' if report.audit_scrubbed == 1 else 'ies'}")
    if report.dry_run:
        console.print("[bold]dry run[/]: nothing was removed")
    else:
        console.print("the audit log keeps an entry for this run (ids and counts only)")


def _campaign_rows(table: Table, report: "RemovalReport") -> None:
    """The SMS counts, and for an erasure the campaign store's; "not checked" where not reached."""
    def count(value: int | None) -> str:
        return "not checked" if value is None else str(value)

    table.add_row("SMS outbox messages", count(report.sms_outbox))
    for kind, label in SMS_KINDS.items():
        table.add_row(label, count(None if report.sms is None else getattr(report.sms, kind)))
    if report.campaign is not None:
        for kind, label in CAMPAIGN_KINDS.items():
            table.add_row(label, str(getattr(report.campaign, kind)))


def _execute(records: Path, database: str | None, redis: str | None, prefix: str, work) -> "RemovalReport":
    """Open the store (and the bus), run `work(store, bus)`, close them again."""
    folder = _folder(records)
    store = open_store(database, folder)
    try:
        return asyncio.run(_with_bus(redis, prefix, lambda bus: work(store, bus)))
    finally:
        store.close()


def _print(report: "RemovalReport", as_json: bool, account: str | None = None) -> None:
    """The counts (as JSON, or a table); for an erasure, what happens to the opt-out."""
    from voicebot.records.retention import CAMPAIGN_KEPT, HISTORY_KEPT, OPT_OUTS_KEPT

    if as_json:
        kept = {"opt_out_kept": report.opt_out_kept} if account else {}
        typer.echo(json.dumps({"scope": report.scope, "dry_run": report.dry_run, **report.counts(), **kept}))
        return
    console = Console(width=120)
    show(report, console)
    if account:
        if report.opt_out_kept:
            console.print(f"[bold]kept[/]: the opt-out of {account}: {report.opt_out_kept}")
        console.print(OPT_OUTS_KEPT)
        console.print(HISTORY_KEPT)
        if report.campaign is not None:
            console.print(CAMPAIGN_KEPT)


@records_app.command()
def purge(
    older_than: int = typer.Option(None, "--older-than", min=1, metavar="DAYS",
                                   help="remove calls that ended more than DAYS days ago",
                                   show_default="$VOICEBOT_RETENTION_DAYS, else 365"),
    account: str = typer.Option(None, "--account", help="instead: every call of this account, whatever "
                                                        "its age (`erase --account ID --yes`)"),
    records: Path = typer.Option(Path("var/calls"), help=RECORDS_HELP),
    database: str = typer.Option(None, envvar="VOICEBOT_DATABASE_URL", help=DATABASE_HELP),
    redis: str = typer.Option(None, "--redis", envvar="REDIS_URL", help=REDIS_HELP),
    prefix: str = typer.Option(BUS_PREFIX, envvar="VOICEBOT_BUS_PREFIX", help=PREFIX_HELP),
    campaign_prefix: str = typer.Option(CAMPAIGN_PREFIX, "--campaign-prefix", help=CAMPAIGN_PREFIX_HELP),
    campaign_state: Path = typer.Option(None, "--campaign-state", help=CAMPAIGN_STATE_HELP),
    outbox: Path = typer.Option(None, "--outbox", help=OUTBOX_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="count what would go, remove nothing"),
    as_json: bool = typer.Option(False, "--json", help="the counts as one JSON object"),
) -> None:
    """Remove calls past the retention period: database rows, files, decided handoff packets,
    and the campaigns' SMS from before it."""
    from voicebot.records.retention import cutoff_for, purge_records, retention_days

    if account:
        if older_than:
            raise typer.BadParameter("--account erases every call of the account: drop --older-than")
        return erase(account=account, records=records, database=database, redis=redis, prefix=prefix,
                     campaign_prefix=campaign_prefix, campaign_state=campaign_state, outbox=outbox,
                     dry_run=dry_run, yes=True, as_json=as_json)
    try:
        days = older_than or retention_days()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    data = _campaign_data(_folder(records), redis, campaign_prefix, campaign_state, outbox)
    report = _execute(records, database, redis, prefix, lambda store, bus: purge_records(
        store, records, bus, cutoff=cutoff_for(days), dry_run=dry_run, by=_who(), campaign_data=data))
    _print(report, as_json)


@records_app.command()
def erase(
    account: str = typer.Option(..., "--account", help="the account id whose calls are erased"),
    records: Path = typer.Option(Path("var/calls"), help=RECORDS_HELP),
    database: str = typer.Option(None, envvar="VOICEBOT_DATABASE_URL", help=DATABASE_HELP),
    redis: str = typer.Option(None, "--redis", envvar="REDIS_URL", help=REDIS_HELP),
    prefix: str = typer.Option(BUS_PREFIX, envvar="VOICEBOT_BUS_PREFIX", help=PREFIX_HELP),
    campaign_prefix: str = typer.Option(CAMPAIGN_PREFIX, "--campaign-prefix", help=CAMPAIGN_PREFIX_HELP),
    campaign_state: Path = typer.Option(None, "--campaign-state", help=CAMPAIGN_STATE_HELP),
    outbox: Path = typer.Option(None, "--outbox", help=OUTBOX_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="count what would go, remove nothing"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
    as_json: bool = typer.Option(False, "--json", help="the counts as one JSON object"),
) -> None:
    """Erase one debtor's calls (right to erasure): rows, files, decided handoff packets, its SMS
    and its accounts in the campaigns.  Their opt-out is kept: it is a legal obligation."""
    from telephony.campaign.opt_out_journal import journal_path
    from voicebot.records.retention import erase_account

    _folder(records)
    if not (dry_run or yes or typer.confirm(f"erase every call of account {account}? This cannot be undone")):
        raise typer.Exit(1)
    data = _campaign_data(records, redis, campaign_prefix, campaign_state, outbox)
    report = _execute(records, database, redis, prefix, lambda store, bus: erase_account(
        store, records, bus, account, dry_run=dry_run, by=_who(), opt_out_journal=journal_path(records, config.current().opt_out_journal),
        campaign_data=data))
    _print(report, as_json, account)

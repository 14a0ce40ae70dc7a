"""`voicebot campaign`: run outbound collection campaigns and their SMS triggers.

Several `voicebot campaign run` processes given the same --redis and --campaign share the work;
without --redis one process runs it alone and keeps its state in a JSON file."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import typer
from prometheus_client import start_http_server
from rich.console import Console

from dialogue.accounts import AccountError, load_accounts
from telephony.backend import DEFAULT_STATE_FILE, CampaignBackend, open_backend
from telephony.campaign.clock import Clock, ManualClock, ShiftedClock, SystemClock, parse_instant
from telephony.campaign.config import CampaignConfig, parse_duration
from telephony.campaign.opt_out_journal import OptOutJournal, journal_path
from telephony.campaign.opt_outs import OptOuts
from telephony.campaign.promise_follow_ups import PromiseFollowUps
from telephony.campaign.provider_dialer import ProviderDialer, local_callee
from telephony.campaign.report import ProgressListener, progress_bar, summary_table, totals
from telephony.campaign.store import StoreUnavailable
from telephony.campaign.worker import CampaignWorker, default_worker_id
from telephony.compliance_gate import AuditLog
from telephony.sms.config import SmsConfig
from telephony.sms.triggers import SmsTriggers
from voicebot.config import current as engine_settings
from voicebot.cli.users_cmd import open_store
from voicebot.records.contact_history import StoredContactHistory
from voicebot.records.promise_book import SqlPromiseBook
from voicebot.simulated_dialer import SimulatedDialer

campaign_app = typer.Typer(no_args_is_help=True, add_completion=False,
                           help="Outbound collection campaigns and SMS triggers.")

REDIS_HELP = "Redis URL shared by all workers (default: $REDIS_URL; none: in memory, one process)"
JOURNAL_HELP = ("opt-out journal: every opt-out is fsync'd here before the store is told, and every dial "
                "checks it (default: $VOICEBOT_OPT_OUT_JOURNAL, else opt-outs.jsonl in the records folder, which "
                "`voicebot serve` shares)")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _backend(redis_url: str | None, prefix: str, state: Path | None, outbox: Path | None) -> CampaignBackend:
    try:
        return open_backend(redis_url or engine_settings().redis_url, prefix, state, outbox)
    except Exception as exc:  # noqa: BLE001 - connection refused, bad URL, unreadable state file
        raise _fail(f"cannot open the campaign state: {exc}") from None


def _clock(at: str | None, virtual: bool) -> Clock:
    if virtual:
        return ManualClock(parse_instant(at) if at else SystemClock().now())
    return ShiftedClock(parse_instant(at)) if at else SystemClock()


def _instant(text: str | None) -> datetime | None:
    try:
        return parse_instant(text) if text else None
    except ValueError as exc:
        raise _fail(f"bad time {text!r}: {exc}") from None


@campaign_app.command("run")
def run(
    accounts: Path = typer.Argument(..., help="accounts file, CSV or JSON"),
    campaign: str = typer.Option(None, help="campaign id shared by its workers (default: the file's name)"),
    concurrency: int = typer.Option(2, min=1, help="calls in progress at once, across all workers"),
    redis_url: str = typer.Option(None, "--redis", help=REDIS_HELP),
    prefix: str = typer.Option("voicebot", help="Redis key prefix"),
    worker_id: str = typer.Option(None, help="this worker's name (default: host-pid)"),
    at: str = typer.Option(None, help="run as if the time were this ISO instant (time flows from it)"),
    follow: bool = typer.Option(False, "--follow", help="keep running until every account is settled "
                                                        "(or --until), waiting for retries"),
    until: str = typer.Option(None, help="with --follow: stop at this ISO instant"),
    virtual_time: bool = typer.Option(False, "--virtual-time", help="waits take no real time (one "
                                                                    "process only; demos of a multi-day campaign)"),
    max_attempts: int = typer.Option(6, min=1, help="dials per account in this campaign"),
    max_per_day: int = typer.Option(3, min=1, help="dials per account per local day (all campaigns)"),
    max_per_week: int = typer.Option(7, min=1, help="dials per account in any 7 days (all campaigns)"),
    max_answered: int = typer.Option(2, min=1, help="answered calls without a commitment before stopping"),
    window: str = typer.Option("08:00-21:00", help="local calling window"),
    retry: str = typer.Option("30m,2h,1d", help="waits after consecutive no-answer/busy dials"),
    redial_after: str = typer.Option("1d", help="wait before redialling, with the other voice, after "
                                                "an answered call without a promise"),
    lease_ttl: float = typer.Option(60.0, min=0.1, help="seconds before a dead worker's account frees up"),
    speed: float = typer.Option(4.0, min=0.25, help="simulated call speed factor"),
    ring_s: float = typer.Option(0.0, min=0.0, help="real seconds an unanswered simulated dial rings"),
    records: Path = typer.Option(Path("var/calls"), help="where call records and recordings go"),
    sms: bool = typer.Option(True, "--sms/--no-sms", help="plan and send SMS triggers"),
    sms_windows: str = typer.Option("09:00-11:00,15:00-17:00", help="local SMS send windows"),
    sms_per_week: int = typer.Option(3, min=1, help="SMS per account in any 7 days"),
    outbox: Path = typer.Option(None, help="SMS outbox JSONL file (default: Redis stream PREFIX:sms:outbox "
                                           "with --redis, else var/sms/outbox.jsonl)"),
    state: Path = typer.Option(DEFAULT_STATE_FILE, help="state file when running without Redis"),
    audit: Path = typer.Option(None, help="also append every blocked attempt (contact rule, reason) "
                                          "to this JSONL file"),
    opt_out_journal: Path = typer.Option(None, help=JOURNAL_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON, no progress bar"),
    server: str = typer.Option(None, help="place calls through the local carrier to this media-stream "
                                          "server (ws://HOST:PORT) instead of in-process; outcomes come "
                                          "from its live feed, so it must share --redis/REDIS_URL"),
    token: str = typer.Option(None, help="with --server: the server's stream token", envvar="VOICEBOT_TOKEN"),
    database: str = typer.Option(None, envvar="VOICEBOT_DATABASE_URL",
                                 help="records store (calls and the promise book; with --server, the server's); "
                                      "default RECORDS/records.db"),
    follow_ups: bool = typer.Option(True, "--follow-ups/--no-follow-ups",
                                    help="follow up promises made on the calls: reminder SMS, check, a call for "
                                         "a broken one, escalation (each stage's follow_up: policy)"),
    promise_grace: str = typer.Option(None, help="how late a payment may be and still keep its promise, e.g. 1d "
                                                 "(default: $VOICEBOT_PROMISE_GRACE, else none)"),
    metrics_port: int = typer.Option(None, help="serve Prometheus metrics (dials by outcome, Redis failures) "
                                                "on this port, at /metrics, no auth: bind it to the operator "
                                                "network", envvar="VOICEBOT_CAMPAIGN_METRICS_PORT"),
    metrics_host: str = typer.Option("127.0.0.1", help="interface of --metrics-port"),
) -> None:
    """Dial the campaign's due accounts: windows, caps, retries, voice rotation, opt-outs."""
    console = Console(highlight=False, soft_wrap=True, stderr=as_json)
    try:
        rows = load_accounts(accounts)
        config = CampaignConfig(
            calling_window=window, max_calls_per_day=max_per_day,
            max_calls_per_week=max_per_week, max_attempts=max_attempts, max_answered=max_answered,
            retry_delays=retry, redial_after_no_promise=redial_after, concurrency=concurrency,
            lease_ttl_s=lease_ttl)
        sms_config = SmsConfig(send_windows=sms_windows, max_per_week=sms_per_week)
        clock = _clock(at, virtual_time)
        grace = parse_duration(promise_grace) if promise_grace else engine_settings().promise_grace
    except (AccountError, ValueError) as exc:
        raise _fail(str(exc)) from None
    deadline = _instant(until)
    name = campaign or accounts.stem
    if metrics_port is not None:  # telephony/metrics.py's counters, for the run's whole length
        try:
            start_http_server(metrics_port, addr=metrics_host)
        except OSError as exc:
            raise _fail(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc}") from None
    backend = _backend(redis_url, prefix, None if redis_url or engine_settings().redis_url else state, outbox)
    records_store = open_store(database, records)  # the one contact history; calls and promises, for the console too
    history = StoredContactHistory(records_store)   # every dial and text is judged with it and recorded in it
    triggers = (SmsTriggers(backend.sms_store, backend.outbox, backend.store, clock, sms_config, history=history)
                if sms else None)
    book = records_store if follow_ups else None
    if server:
        bus_url = redis_url or engine_settings().redis_url
        if not bus_url:
            raise _fail("--server needs --redis or REDIS_URL: the server reports each call's end on that bus")
        dialer = carrier_dialer(server, token, bus_url)
    else:
        dialer = SimulatedDialer(speed=speed, records_dir=records, ring_s=ring_s, records=book)
    promise_steps = (PromiseFollowUps(SqlPromiseBook(book), backend.store, name, sms=triggers, grace=grace)
                     if book is not None else None)
    journal = OptOutJournal(journal_path(records, opt_out_journal or engine_settings().opt_out_journal))
    worker = CampaignWorker(backend.store, dialer, name, config=config, clock=clock,
                            worker_id=worker_id or default_worker_id(), sms=triggers,
                            audit=AuditLog(audit) if audit else None,
                            opt_outs=OptOuts(backend.store, journal),
                            follow_ups=promise_steps, history=history)
    if not as_json:
        console.print(f"[bold]campaign[/] {name}: {len(rows)} accounts, worker {worker.worker_id}, "
                      f"state in {backend.where}")
    try:
        if as_json:
            result = asyncio.run(worker.run(rows, follow=follow, until=deadline))
        else:
            with progress_bar(console) as progress:
                worker.listener = ProgressListener(progress, backend.store, name, clock, len(rows))
                result = asyncio.run(worker.run(rows, follow=follow, until=deadline))
    except StoreUnavailable as exc:  # at the start (mid-run outages are ridden out); says where
        raise _fail(str(exc)) from None
    finally:
        backend.save()
        records_store.close()  # its queued writes (attempts' outcomes, the last turns, promises) reach the database
    if as_json:
        summary = totals(backend.store.states(name), backend.store.calls(name), backend.store.blocked(name)).to_dict()
        print(json.dumps({"campaign": name, "worker": result.worker, "deferred": result.deferred,
                          "lost_leases": result.lost_leases, "totals": summary,
                          "calls": [c.model_dump(mode="json") for c in result.calls]}, ensure_ascii=False))
        return
    console.print(summary_table(backend.store, name))
    if triggers is not None:
        pending = backend.sms_store.pending()
        console.print(f"[bold]sms[/] {len(pending)} waiting" + (
            f", next {pending[0].account_id} {pending[0].trigger} at {pending[0].due_at:%Y-%m-%d %H:%M} UTC"
            if pending else ""))


def carrier_dialer(server: str, token: str | None, bus_url: str) -> ProviderDialer:
    """The LocalProvider playing each row's scripted callee against a running server."""
    from telephony.bus.redis_bus import RedisBus
    from voicebot.providers.local import LocalProvider

    bus = RedisBus(bus_url, prefix=engine_settings().bus_prefix)
    return ProviderDialer(LocalProvider(server, token=token), bus, place_extra=local_callee)


@campaign_app.command("status")
def status(
    campaign: str = typer.Argument(..., help="campaign id (an accounts file's name without extension)"),
    redis_url: str = typer.Option(None, "--redis", help=REDIS_HELP),
    prefix: str = typer.Option("voicebot", help="Redis key prefix"),
    state: Path = typer.Option(DEFAULT_STATE_FILE, help="state file when running without Redis"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show a campaign's accounts, calls and totals, as every worker left them."""
    backend = _backend(redis_url, prefix, state, None)
    name = Path(campaign).stem
    if as_json:
        states = backend.store.states(name)
        print(json.dumps({"campaign": name, "totals": totals(states, backend.store.calls(name), backend.store.blocked(name)).to_dict(),
                          "accounts": {k: v.model_dump(mode="json") for k, v in states.items()}},
                         ensure_ascii=False))
        return
    Console(highlight=False, soft_wrap=True).print(summary_table(backend.store, name))


@campaign_app.command("sms")
def send_sms(
    redis_url: str = typer.Option(None, "--redis", help=REDIS_HELP),
    prefix: str = typer.Option("voicebot", help="Redis key prefix"),
    at: str = typer.Option(None, help="as if the time were this ISO instant"),
    outbox: Path = typer.Option(None, help="SMS outbox JSONL file"),
    sms_windows: str = typer.Option("09:00-11:00,15:00-17:00", help="local SMS send windows"),
    sms_per_week: int = typer.Option(3, min=1, help="SMS per account in any 7 days"),
    state: Path = typer.Option(DEFAULT_STATE_FILE, help="state file when running without Redis"),
    database: str = typer.Option(None, envvar="VOICEBOT_DATABASE_URL",
                                 help="records store whose contact history each text sent goes to; "
                                      "default RECORDS/records.db"),
    records: Path = typer.Option(Path("var/calls"), help="records folder (for the default database)"),
) -> None:
    """Send the SMS that are due now (run it from cron between campaign runs)."""
    backend = _backend(redis_url, prefix, state, outbox)
    clock = _clock(at, False)
    records_store = open_store(database, records)
    triggers = SmsTriggers(backend.sms_store, backend.outbox, backend.store, clock,
                           SmsConfig(send_windows=sms_windows, max_per_week=sms_per_week),
                           history=StoredContactHistory(records_store))
    try:
        sent = triggers.send_due()
    finally:
        backend.save()
        records_store.close()
    for message in sent:
        typer.echo(f"{message.account_id} {message.trigger} ({message.local_time}): {message.text}")
    pending = backend.sms_store.pending()
    typer.echo(f"{len(sent)} sent, {len(pending)} waiting")


@campaign_app.command("opt-out")
def opt_out(
    account_ids: list[str] = typer.Argument(..., help="accounts never to call or text again"),
    redis_url: str = typer.Option(None, "--redis", help=REDIS_HELP),
    prefix: str = typer.Option("voicebot", help="Redis key prefix"),
    state: Path = typer.Option(DEFAULT_STATE_FILE, help="state file when running without Redis"),
    reason: str = typer.Option("requested", help="kept with the opt-out"),
    opt_out_journal: Path = typer.Option(None, help=JOURNAL_HELP),
) -> None:
    """Record opt-outs received outside a call (letter, email, complaint)."""
    backend = _backend(redis_url, prefix, state, None)
    named = opt_out_journal or engine_settings().opt_out_journal
    opt_outs = OptOuts(backend.store, OptOutJournal(journal_path(None, named)))
    for account_id in account_ids:
        opt_outs.record(account_id, SystemClock().now(), "opt-out command", reason)
    backend.save()
    typer.echo(f"{len(account_ids)} opted out; {len(backend.store.opted_out())} in total")


@campaign_app.command("paid")
def paid(
    account_ids: list[str] = typer.Argument(..., help="accounts that have paid"),
    redis_url: str = typer.Option(None, "--redis", help=REDIS_HELP),
    prefix: str = typer.Option("voicebot", help="Redis key prefix"),
    state: Path = typer.Option(DEFAULT_STATE_FILE, help="state file when running without Redis"),
) -> None:
    """Record payments (from the lender's feed): pending reminders to these accounts are cancelled."""
    backend = _backend(redis_url, prefix, state, None)
    for account_id in account_ids:
        backend.store.mark_paid(account_id)
    backend.save()
    typer.echo(f"{len(account_ids)} marked paid")

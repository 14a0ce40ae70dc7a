"""How long a call's personal data is kept, and removing it: a retention purge or one debtor's erasure.

A collections call leaves the debtor's name, number, words and voice in five places: the
records database (the call row and its turns), the records folder (`<call_id>.jsonl`, `.json`,
`.wav`), handoff packets on the live bus (the transcript an agent saw), handoff packets the bus
could not take, waiting in the server's outbox in the records folder (`handoff-outbox.jsonl`)
and, masked, the logs.  Nothing there is needed once the retention period has passed, so
`purge_records` removes every call that ended (or, never ended, started) before the cut-off from
the first four, and `erase_account` removes all of one account's calls whatever their age (the
right to erasure).  The outbox is swept before the bus: a packet a server files from the outbox
while the erasure runs is either taken back out by that server or found on the bus by the sweep
(telephony/handoff/outbox.py).

The campaigns keep more (`CampaignData`): the SMS store and outbox hold the number and the
text of each reminder, and the campaign store the account as registered (name, phone, debt).
A purge removes the SMS entries from before the cut-off; an erasure removes every SMS entry of
the account and its personal fields in the campaign store.  A purge by age leaves the campaign
store's accounts: they are the lender's current book, not records of past calls.

What stays, and why: the opt-outs (the opt-out journal and the campaign store's set) are a
legal obligation to keep, the "do not call" outlives the debt and the erasure, and they hold an
account id, a time and a source; the campaign store also keeps the dial times the contact rules'
frequency caps count and its blocked-attempt log (ids, rules, masked numbers), and the records
store's contact history its attempts, without their numbers after an erasure and for at least
the rules' look-back after a purge (see `contact_rows`); the audit log stays as proof of who accessed what, holding ids only (see `call_rows`).  Each purge or erasure
adds an audit entry with its counts.

The retention is `VOICEBOT_RETENTION_DAYS` (default 365 days), the same setting `voicebot serve`
(which purges once a day) and `voicebot records purge` read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicebot import config
from voicebot.records.audit import audit
from voicebot.records.call_files import FileRemoval, RecordsFolder
from voicebot.records.call_rows import (CallRows, calls_ended_before, calls_of_account, delete_calls,
                                        known_ids, scrub_audit, truncate_wal)
from voicebot.records.contact_rows import erase_attempt_phones, purge_attempts
from voicebot.records.promise_rows import erase_promises, purge_promises
from voicebot.records.store import RecordStore

if TYPE_CHECKING:
    from telephony.backend import CampaignBackend
    from telephony.bus.base import Bus
    from telephony.campaign.store import AccountErasure, CampaignStore
    from telephony.handoff.retention import PacketSweep
    from telephony.sms.outbox import KeptOutbox
    from telephony.sms.store import SmsRemoval, SmsStore

OPT_OUTS_KEPT = ("opt-outs are never erased: an opt-out is a legal obligation to keep (the debtor "
                 "must not be called again), so the opt-out journal and the campaign store's opt-out "
                 "set keep the account id, time and source")
HISTORY_KEPT = ("the contact history keeps the account's attempts (ids, times, channel, whether a "
                "conversation: the contact rules' caps count them), without their phone numbers")
CAMPAIGN_KEPT = ("the campaign store keeps the account's dial times (the contact rules' frequency caps count "
                 "them) and its blocked attempts (ids, rules, masked numbers: proof the rules were applied)")


def retention_days(env: Mapping[str, str] | None = None) -> int:
    """VOICEBOT_RETENTION_DAYS of the settings (of `env` when given), else 365.

    Raises:
        voicebot.config.SettingsError (a ValueError naming the variable): not a whole number >= 1."""
    return (config.current() if env is None else config.EngineSettings.from_env(env)).retention_days


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    """The instant before which calls are purged when they are kept `days` days."""
    return (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=days)


@dataclass
class CampaignData:
    """The campaigns' stores a purge or an erasure reaches besides the call records, opened as
    `voicebot campaign` opens them; `save` writes a memory store back to its state file."""

    store: "CampaignStore"
    sms: "SmsStore"
    outboxes: Sequence["KeptOutbox"]
    where: str                                   # for the report: Redis and prefix, or the state file
    save: Callable[[], None] = lambda: None

    @classmethod
    def of(cls, backend: "CampaignBackend", where: str, extra_outboxes: Sequence[object] = ()) -> "CampaignData":
        """From `telephony.backend.open_backend`'s result: its stores, and those of its outbox
        and `extra_outboxes` that keep messages (a file or stream; a carrier keeps none)."""
        from telephony.sms.outbox import KeptOutbox

        outboxes = [o for o in (backend.outbox, *extra_outboxes) if isinstance(o, KeptOutbox)]
        return cls(backend.store, backend.sms_store, outboxes, where, backend.save)


@dataclass
class RemovalReport:
    """What a purge or erasure removed (a dry run: would remove), and what it kept."""

    scope: str                          # "calls ended before ..." / "account ..."
    dry_run: bool
    calls: int = 0                      # call rows
    turns: int = 0                      # turn rows
    files: FileRemoval = field(default_factory=FileRemoval)
    packets: PacketSweep | None = None  # None: no bus was given, or it failed
    packets_error: str | None = None    # why the bus could not be swept (the rest was done)
    outbox: list[str] | None = None     # call ids of packets erased from the handoff outbox (None: not reached)
    outbox_error: str | None = None     # why the handoff outbox could not be swept (the rest was done)
    audit_scrubbed: int = 0             # older audit entries whose numbers were masked
    contact_attempts: int = 0           # contact history: attempts purged (by age) or numbers cleared (erasure)
    promise_rows: int = 0               # promise book: promises and payments removed (promise_rows.py)
    opt_out_kept: str | None = None     # erasure: where the account's opt-out stays, if it has one
    campaign_data: str | None = None    # where the campaigns' stores are (None: none was given)
    sms: "SmsRemoval | None" = None     # SMS store entries (None: not reached)
    sms_outbox: int | None = None       # messages in the SMS outboxes
    campaign: "AccountErasure | None" = None  # erasure: the account's fields in the campaign store
    campaign_error: str | None = None   # why the campaigns' stores were not (all) swept (the rest was done)

    def counts(self) -> dict[str, Any]:
        """The figures, as the audit entry and `--json` give them."""
        files = {k.lstrip("."): v for k, v in self.files.by_kind().items()}
        return {"calls": self.calls, "turns": self.turns, "files": files, "bytes": self.files.bytes,
                "files_refused": len(self.files.refused),
                "packets": None if self.packets is None else len(self.packets.removed),
                "packets_waiting_kept": None if self.packets is None else len(self.packets.kept_waiting),
                "packets_error": self.packets_error,
                "outbox_packets": None if self.outbox is None else len(self.outbox),
                "outbox_error": self.outbox_error, "audit_scrubbed": self.audit_scrubbed,
                "contact_attempts": self.contact_attempts, "promise_rows": self.promise_rows,
                "sms": None if self.sms is None else asdict(self.sms), "sms_outbox": self.sms_outbox,
                "campaign": None if self.campaign is None else asdict(self.campaign),
                "campaign_error": self.campaign_error}


@dataclass
class _Chosen:
    rows: CallRows
    file_ids: list[str]
    cutoff: datetime | None = None   # a purge by age
    account_id: str | None = None    # an erasure


def _choose(store: RecordStore, folder: RecordsFolder, *, cutoff: datetime | None,
            account_id: str | None) -> _Chosen:
    """Rows from the database; files of those calls, and of calls only the folder knows
    (a database write that failed, a simulated call): judged by their own record's account,
    or by when their files were last written."""
    on_disk = folder.scan()
    with store.session() as db:
        rows = calls_ended_before(db, cutoff) if cutoff is not None else calls_of_account(db, account_id or "")
        in_db = known_ids(db, on_disk)
    if cutoff is not None:
        only_on_disk = [c.call_id for c in on_disk.values() if c.call_id not in in_db and c.last_written < cutoff]
    else:
        only_on_disk = [c.call_id for c in on_disk.values() if c.account_id == account_id]
    return _Chosen(rows, sorted(set(rows.ids) | set(only_on_disk)), cutoff, account_id)


def _remove(store: RecordStore, folder: RecordsFolder, chosen: _Chosen, report: RemovalReport) -> None:
    """Files first, then rows: a call whose JSONL or summary could not go is found again by the
    next run's folder scan, even with its rows gone."""
    paths = [p for call_id in chosen.file_ids for p in folder.files_of(call_id)]
    paths += [Path(r) for r in chosen.rows.recordings]  # a WAV recorded under another name
    report.files = folder.remove(paths, dry_run=report.dry_run)
    report.calls, report.turns = len(chosen.rows.ids), chosen.rows.turns
    dry_run = report.dry_run

    def write(db) -> None:
        if not dry_run:
            report.calls, report.turns = delete_calls(db, chosen.rows.ids)
        report.audit_scrubbed = scrub_audit(db, dry_run=dry_run)
        report.contact_attempts = (purge_attempts(db, chosen.cutoff, dry_run=dry_run) if chosen.cutoff is not None
                                   else erase_attempt_phones(db, chosen.account_id or "", dry_run=dry_run))
        report.promise_rows = (purge_promises(db, chosen.cutoff, dry_run=dry_run) if chosen.cutoff is not None
                               else erase_promises(db, chosen.account_id or "", dry_run=dry_run))
    store.write_now(write)
    if not dry_run and report.calls:
        truncate_wal(store.engine)


def _sweep_campaign_data(data: CampaignData, report: RemovalReport, *, cutoff: datetime | None,
                         account_id: str | None) -> None:
    """SMS entries by age (a purge) or by account (an erasure), and for an erasure the
    account's fields in the campaign store, where an opt-out the journal lacks is also found."""
    dry_run = report.dry_run
    if account_id is None:
        assert cutoff is not None
        report.sms = data.sms.purge_before(cutoff, dry_run=dry_run)
        report.sms_outbox = sum(outbox.purge_before(cutoff, dry_run=dry_run) for outbox in data.outboxes)
    else:
        report.sms = data.sms.erase_account(account_id, dry_run=dry_run)
        report.sms_outbox = sum(outbox.erase_account(account_id, dry_run=dry_run) for outbox in data.outboxes)
        report.campaign = data.store.erase_account(account_id, dry_run=dry_run)
        if report.opt_out_kept is None and data.store.is_opted_out(account_id):
            report.opt_out_kept = f"opted out, kept in the campaign store ({data.where})"
    if not dry_run:
        data.save()


def _sweep_outbox(folder: Path, report: RemovalReport, *, cutoff: datetime | None,
                  account_id: str | None) -> None:
    """The handoff packets waiting in the server's outbox: by account, or created before the cut-off."""
    from telephony.handoff.outbox import OUTBOX_NAME, HandoffOutbox

    outbox = HandoffOutbox(folder / OUTBOX_NAME)
    try:
        report.outbox = (outbox.erase_account(account_id, dry_run=report.dry_run) if account_id is not None
                         else outbox.purge_before(cutoff, dry_run=report.dry_run))  # type: ignore[arg-type]
    except OSError as exc:  # the calls are removed all the same; the report says so
        report.outbox_error = f"{type(exc).__name__}: {exc}"


async def _run(store: RecordStore, folder: Path, bus: "Bus | None", report: RemovalReport, *,
               cutoff: datetime | None, account_id: str | None, by: str, action: str, target: str,
               campaign_data: CampaignData | None) -> RemovalReport:
    from telephony.bus.base import BusError
    from telephony.campaign.store import StoreUnavailable
    from telephony.handoff.retention import sweep_packets

    records = RecordsFolder(folder)
    chosen = await asyncio.to_thread(_choose, store, records, cutoff=cutoff, account_id=account_id)
    await asyncio.to_thread(_sweep_outbox, Path(folder), report, cutoff=cutoff, account_id=account_id)
    if bus is not None:  # after the outbox: what a delivery in flight filed is on the bus by now
        try:
            report.packets = await sweep_packets(bus, before=cutoff if account_id is None else None,
                                                 account_id=account_id, dry_run=report.dry_run)
        except BusError as exc:  # Redis away: the database and the files are purged all the same
            report.packets_error = str(exc)
    if campaign_data is not None:
        report.campaign_data = campaign_data.where
        try:
            await asyncio.to_thread(_sweep_campaign_data, campaign_data, report, cutoff=cutoff,
                                    account_id=account_id)
        except (StoreUnavailable, OSError) as exc:  # Redis away, an outbox file refused: the rest all the same
            report.campaign_error = f"{type(exc).__name__}: {exc}"
    await asyncio.to_thread(_remove, store, records, chosen, report)
    if not report.dry_run:
        audit(store, by, action, target, **report.counts())
        await asyncio.to_thread(store.flush)
    return report


async def purge_records(store: RecordStore, folder: Path, bus: "Bus | None", *, cutoff: datetime,
                        dry_run: bool = False, by: str = "cli",
                        campaign_data: CampaignData | None = None) -> RemovalReport:
    """Remove every call that ended before `cutoff`: rows, files, decided handoff packets, and
    the SMS entries from before it."""
    cutoff = cutoff.astimezone(UTC)
    report = RemovalReport(f"calls ended before {cutoff:%Y-%m-%d %H:%M} UTC", dry_run)
    return await _run(store, folder, bus, report, cutoff=cutoff, account_id=None, by=by,
                      action="records_purge", target=f"before {cutoff.isoformat(timespec='seconds')}",
                      campaign_data=campaign_data)


async def erase_account(store: RecordStore, folder: Path, bus: "Bus | None", account_id: str, *,
                        dry_run: bool = False, by: str = "cli", opt_out_journal: Path | None = None,
                        campaign_data: CampaignData | None = None) -> RemovalReport:
    """Remove all of one account's calls, whatever their age, its SMS and its personal fields
    in the campaign store; its opt-out is kept (and said)."""
    if not account_id.strip():
        raise ValueError("an account id is needed")
    report = RemovalReport(f"account {account_id}", dry_run)
    if opt_out_journal is not None:
        report.opt_out_kept = _opt_out_note(opt_out_journal, account_id)
    return await _run(store, folder, bus, report, cutoff=None, account_id=account_id, by=by,
                      action="records_erase", target=account_id, campaign_data=campaign_data)


def _opt_out_note(journal: Path, account_id: str) -> str | None:
    """Where the account's opt-out stays, read from the journal (None: it has none there)."""
    from telephony.campaign.opt_out_journal import OptOutJournal

    if not journal.is_file():
        return None
    entry = OptOutJournal(journal).get(account_id)
    if entry is None:
        return None
    return f"opted out {entry.get('at', '?')} ({entry.get('source', '?')}), kept in {journal}"

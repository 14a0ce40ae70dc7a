"""What a person watching a campaign sees: a live progress bar while workers dial, and a
summary table of the whole campaign (every worker's calls, read back from the store)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dialogue.accounts import Account
from dialogue.compliance.rules import debtor_time
from telephony.campaign.clock import Clock
from telephony.campaign.dialer import CallRequest
from telephony.campaign.state import AccountState, CallRecord
from telephony.campaign.store import CampaignStore
from telephony.campaign.worker import CampaignListener


@dataclass
class CampaignTotals:
    accounts: int
    dials: int
    answered: int
    outcomes: dict[str, int]
    finals: dict[str, int]
    pending: int
    opted_out: int
    blocked: dict[str, int] = field(default_factory=dict)  # contact rule -> blocked attempts

    @property
    def connect_rate(self) -> float:
        return self.answered / self.dials if self.dials else 0.0

    def to_dict(self) -> dict:
        return {**vars(self), "connect_rate": round(self.connect_rate, 3)}


def totals(states: dict[str, AccountState], calls: list[CallRecord],
           blocked: list[dict] | None = None) -> CampaignTotals:
    return CampaignTotals(
        blocked=dict(Counter(str(entry.get("rule")) for entry in blocked or [])),
        accounts=len(states), dials=len(calls), answered=sum(c.status == "answered" for c in calls),
        outcomes=dict(Counter(c.outcome for c in calls if c.outcome)),
        finals=dict(Counter(s.final for s in states.values() if s.final)),
        pending=sum(not s.done for s in states.values()),
        opted_out=sum(s.final == "opted_out" for s in states.values()))


class ProgressListener(CampaignListener):
    """A rich progress bar: accounts no longer due now, out of all, with live call counts.

    Its hooks run on the worker's event loop, so the one store question it has (how many are
    due now) is asked on a thread of its own, one question at a time: a slow or stalled Redis
    leaves the bar a little behind, never the calls.  Store errors are the worker's to report;
    the bar keeps its last figure."""

    def __init__(self, progress: Progress, store: CampaignStore, campaign: str, clock: Clock, total: int):
        self.progress, self.store, self.campaign, self.clock = progress, store, campaign, clock
        self.task = progress.add_task(campaign, total=max(total, 1))
        self.dials = self.answered = self.in_call = 0
        self._due_now = total
        self._lock = threading.Lock()
        self._asking = self._wanted = False
        self.refresh()

    def refresh(self) -> None:
        self._show()
        with self._lock:
            self._wanted = True
            if self._asking:
                return  # the thread asking now asks once more when it is done
            self._asking = True
        threading.Thread(target=self._ask_store, name="progress-due", daemon=True).start()

    def _ask_store(self) -> None:
        while True:
            with self._lock:
                if not self._wanted:
                    self._asking = False
                    return
                self._wanted = False
            try:
                self._due_now = len(self.store.due(self.campaign, self.clock.now(), limit=100_000))
            except Exception:  # noqa: BLE001 - an outage is logged by the worker; keep the last figure
                continue
            self._show()

    def _show(self) -> None:
        total = self.progress.tasks[self.task].total or 1
        self.progress.update(self.task, completed=max(0, total - self._due_now - self.in_call),
                             description=f"{self.campaign}: {self.dials} dials, {self.answered} answered, "
                                         f"{self.in_call} on the line")

    def call_started(self, request: CallRequest) -> None:
        self.in_call += 1
        self.refresh()

    def call_ended(self, record: CallRecord, state: AccountState) -> None:
        self.in_call -= 1
        self.dials += 1
        self.answered += record.status == "answered"
        self.refresh()

    def deferred(self, state: AccountState) -> None:
        self.refresh()

    def settled(self, state: AccountState) -> None:
        self.refresh()


def progress_bar(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def _when(at: datetime | None, account: Account | None) -> str:
    """`at` on the debtor's clock (the contact rules' one), or in UTC, labelled so, when the
    account's zone is not known."""
    if at is None:
        return ""
    debtor = debtor_time(account) if account else None
    shown = debtor.local(at) if debtor and debtor.known else at.astimezone(timezone.utc)
    return shown.strftime("%a %d %b %H:%M %Z")


def summary_table(store: CampaignStore, campaign: str) -> Table:
    states, calls, accounts = store.states(campaign), store.calls(campaign), store.accounts(campaign)
    by_account: dict[str, list[CallRecord]] = {}
    for call in calls:
        by_account.setdefault(call.account_id, []).append(call)
    table = Table(title=f"campaign {campaign}", show_lines=False)
    for column in ("account", "stage", "dials", "answered", "voices", "last", "state", "next call (local)", "workers"):
        table.add_column(column)
    for account_id in sorted(states):
        state, mine = states[account_id], by_account.get(account_id, [])
        last = state.last_outcome or state.last_status or ""
        where = f"done: {state.final}" if state.done else f"waiting: {state.waiting_for or 'due'}"
        style = {"resolved": "green", "opted_out": "red", "not_callable": "red"}.get(state.final or "", "")
        table.add_row(account_id, mine[-1].stage if mine else "", str(state.attempts), str(state.answered),
                      ", ".join(state.voices), last, f"[{style}]{where}[/]" if style else where,
                      _when(state.next_at, accounts.get(account_id)),
                      ", ".join(sorted({c.worker for c in mine})))
    t = totals(states, calls, store.blocked(campaign))
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(t.outcomes.items())) or "none"
    table.caption = (f"{t.accounts} accounts, {t.dials} dials, {t.answered} answered "
                     f"({t.connect_rate:.0%} connect rate); outcomes: {outcomes}; "
                     f"{t.pending} still in play, {t.opted_out} opted out; blocked by rule: "
                     + (", ".join(f"{k} {v}" for k, v in sorted(t.blocked.items())) or "none"))
    return table

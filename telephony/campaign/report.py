"""What a person watching a campaign sees: a live progress bar while workers dial, and a
summary table of the whole campaign (every worker's calls, read back from the store)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dialogue.accounts import Account
from telephony.campaign.clock import Clock
from telephony.campaign.dialer import CallRequest
from telephony.campaign.state import AccountState, CallRecord
from telephony.campaign.store import CampaignStore
from telephony.campaign.windows import local, zone
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
    """A rich progress bar: accounts no longer due now, out of all, with live call counts."""

    def __init__(self, progress: Progress, store: CampaignStore, campaign: str, clock: Clock, total: int):
        self.progress, self.store, self.campaign, self.clock = progress, store, campaign, clock
        self.task = progress.add_task(campaign, total=max(total, 1))
        self.dials = self.answered = self.in_call = 0
        self.refresh()

    def refresh(self) -> None:
        due_now = len(self.store.due(self.campaign, self.clock.now(), limit=100_000))
        total = self.progress.tasks[self.task].total or 1
        self.progress.update(self.task, completed=max(0, total - due_now - self.in_call),
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


def _when(at: datetime | None, account: Account | None, default_tz: str) -> str:
    if at is None:
        return ""
    tz = zone(account.timezone if account else None, default_tz)
    return local(at, tz).strftime("%a %d %b %H:%M %Z")


def summary_table(store: CampaignStore, campaign: str, default_tz: str = "UTC") -> Table:
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
                      _when(state.next_at, accounts.get(account_id), default_tz),
                      ", ".join(sorted({c.worker for c in mine})))
    t = totals(states, calls, store.blocked(campaign))
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(t.outcomes.items())) or "none"
    table.caption = (f"{t.accounts} accounts, {t.dials} dials, {t.answered} answered "
                     f"({t.connect_rate:.0%} connect rate); outcomes: {outcomes}; "
                     f"{t.pending} still in play, {t.opted_out} opted out; blocked by rule: "
                     + (", ".join(f"{k} {v}" for k, v in sorted(t.blocked.items())) or "none"))
    return table

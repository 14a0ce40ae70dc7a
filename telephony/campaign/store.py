"""The campaign's shared state, as an interface with two implementations: Redis (many workers
on many machines) and memory (one process).  Every change to an account's state happens while
holding its lease, so two workers never dial one account at once nor overwrite each other.

Claim results: "ok", or why not: "opted_out" | "leased" (someone is on it) | "not_due" |
"not_active" (finished or unknown) | "no_line" (the campaign-wide concurrency limit is reached).

Erasing an account (`erase_account`, the right to erasure) removes its personal details and
what the campaigns learnt of it; it keeps what the law needs, holding ids and times only: the
opt-out (the debtor must never be called again), the dial times the contact rules' frequency
caps count, and the blocked-attempt log (proof the rules were applied; numbers in it are masked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dialogue.accounts import Account
from dialogue.compliance.rules import Attempt
from telephony.campaign.state import AccountState, CallRecord, Lease


class StoreUnavailable(RuntimeError):
    """The campaign store, the SMS store or the SMS outbox stream cannot be reached now (down,
    restarting, or stalled past its timeout); the message names which, where it is (without a
    password) and what was being done.  One of every store's `unavailable` errors: the worker
    keeps its outcomes and retries."""


@dataclass
class AccountErasure:
    """What erasing one account took from a campaign store (a dry run: would take)."""

    accounts: int = 0   # the account as registered in a campaign: name, phone, debt, zone
    states: int = 0     # its progress in a campaign: attempts, outcomes, voices, notes
    calls: int = 0      # its dials in the campaigns' call logs: outcomes, scores
    paid: int = 0       # the "has paid" flag
    in_call: str | None = None  # the lease of a call on the line now: its end writes a state and a log entry


class AccountFlags(Protocol):
    """Per-person facts shared by every campaign and by SMS."""

    def is_opted_out(self, account_id: str) -> bool: ...
    def opt_out(self, account_id: str, at: datetime, reason: str = "") -> None: ...
    def opted_out(self) -> set[str]: ...
    def journal_copied(self, journal_id: str) -> int:
        """How many entries of that opt-out journal this store is known to hold (0: none, or the
        store lost them: a Redis that keeps nothing on disk restarted).  Kept beside the
        opt-outs, so it goes when they go (telephony/campaign/opt_outs.py)."""
        ...
    def mark_journal_copied(self, journal_id: str, entries: int) -> None: ...
    def is_paid(self, account_id: str) -> bool: ...
    def mark_paid(self, account_id: str) -> None: ...


class CampaignStore(AccountFlags, Protocol):
    #: Errors that mean "the store cannot be reached now" (Redis down or restarting), as
    #: opposed to a bug: the worker keeps its outcomes and retries on these, and stops on others.
    unavailable: tuple[type[Exception], ...]

    def register(self, campaign: str, accounts: list[Account], now: datetime) -> dict[str, str]:
        """Add accounts not seen before as due now (opted-out ones settle at once); keep the
        state of known ones, so re-running a campaign resumes it.  Returns id -> new|known|opted_out."""
        ...

    def due(self, campaign: str, now: datetime, limit: int = 50) -> list[str]: ...
    def next_due(self, campaign: str) -> datetime | None: ...
    def active(self, campaign: str) -> int:
        """Accounts still in play (not finished)."""
        ...

    def claim(self, campaign: str, account_id: str, worker: str, now: datetime, ttl_s: float,
              max_lines: int) -> Lease | str: ...
    def renew(self, lease: Lease, ttl_s: float) -> bool: ...
    def holder(self, account_id: str) -> str | None: ...

    def state(self, campaign: str, account_id: str) -> AccountState: ...
    def states(self, campaign: str) -> dict[str, AccountState]: ...
    def accounts(self, campaign: str) -> dict[str, Account]: ...

    def contacts_since(self, account_id: str, since: datetime) -> list[datetime]:
        """Dials of this person in any campaign since `since` (for the day and week caps)."""
        ...

    def attempts_since(self, account_id: str, since: datetime) -> list[Attempt]:
        """The same dials with what came of them (connected, conversation), for the contact
        rules engine; a dial still on the line counts as an attempt, not yet connected."""
        ...

    def note_result(self, account_id: str, call_id: str, connected: bool, conversation: bool) -> None:
        """Record whether a dial connected and was a conversation with the debtor."""
        ...

    def log_blocked(self, campaign: str, entry: dict) -> None:
        """Append one blocked attempt (rule name, reason) to the campaign's audit list."""
        ...

    def blocked(self, campaign: str) -> list[dict]: ...

    def begin_call(self, lease: Lease, call_id: str, now: datetime, state: AccountState) -> None:
        """Count the dial against the caps and save the state, before the line rings."""
        ...

    def defer(self, lease: Lease, state: AccountState) -> None:
        """Save the state (with its next_at) and give the account back without dialling."""
        ...

    def finish(self, lease: Lease, state: AccountState, record: CallRecord, opt_out: bool) -> bool:
        """Log the call, save the state and release.  If the lease was lost meanwhile the call is
        still logged (it happened) but the state is left to the new holder; returns False then."""
        ...

    def settle(self, campaign: str, account_id: str, final: str, now: datetime) -> None:
        """Finish an account without a lease (used for opt-outs found at claim time)."""
        ...

    def restate(self, campaign: str, state: AccountState) -> bool:
        """Replace the state of an account no worker holds: pending with a `next_at` puts it
        back in play (a broken promise's follow-up call), done keeps it out (an escalation).
        False, and nothing changed, while a worker holds it or the campaign does not know it."""
        ...

    def calls(self, campaign: str) -> list[CallRecord]: ...

    def erase_account(self, account_id: str, *, dry_run: bool = False) -> AccountErasure:
        """Remove one account from every campaign (its record, state, due time and call-log
        entries) and its paid flag; keep its opt-out, its dial times and blocked attempts."""
        ...

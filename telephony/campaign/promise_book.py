"""What the campaign needs of the promise book, as a protocol: the book itself lives in the
records store (voicebot/records/promise_book.py, SQL), which this package may not import.

A promise is written there when a call records one; the campaign reads the promises of its
accounts, has them judged (dialogue/promises.py, pure) and writes the states back, and notes
each follow-up step it took so that no step is taken twice, by this worker or another.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from dialogue.promises import PaymentFact, PromiseState

Step = Literal["reminded", "followed_up", "escalated"]
STEPS: tuple[str, ...] = ("reminded", "followed_up", "escalated")


@dataclass(frozen=True)
class PromiseRecord:
    """One promise as the book keeps it."""

    id: int
    account_id: str
    locale: str
    stage: str
    promised_on: date        # the debtor's calendar
    made_on: date            # the day of the call, on the debtor's calendar
    timezone: str            # the debtor's zone when the promise was made (dates are in it)
    amount: float
    currency: str | None
    call_id: str
    state: PromiseState = "pending"
    paid: float = 0.0
    reminded_at: datetime | None = None
    followed_up_at: datetime | None = None
    escalated_at: datetime | None = None


@dataclass(frozen=True)
class StateChange:
    promise_id: int
    state: PromiseState
    paid: float
    at: datetime             # the instant the verdict was reached (the campaign's clock)


class PromiseBook(Protocol):
    def promises(self, account_ids: Collection[str] | None = None) -> list[PromiseRecord]:
        """Every promise of these accounts (None: of all accounts), oldest first."""
        ...

    def payments(self, account_ids: Collection[str] | None = None) -> list[PaymentFact]:
        """Every payment of these accounts known to the feed."""
        ...

    def set_states(self, changes: list[StateChange]) -> None:
        """Store new verdicts (only changed ones are passed)."""
        ...

    def note_step(self, promise_id: int, step: Step, at: datetime, detail: str = "") -> bool:
        """Mark a follow-up step as taken; False when it already was (another worker took it)."""
        ...

"""What the campaign remembers per account and per dial; the same JSON lives in Redis or in
memory, so any worker can pick up where another stopped."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

# Why an account left the campaign for good.
# `not_callable`: the account cannot be dialled at all (no stage for its days overdue, unknown
# time zone, a script variable it has no value for); `note` says why.
Final = Literal["resolved", "opted_out", "handed_off", "wrong_party", "max_attempts", "max_answered",
                "not_callable"]


class AccountState(BaseModel):
    account_id: str
    status: Literal["pending", "done"] = "pending"
    final: Final | None = None
    attempts: int = 0                 # dials in this campaign
    answered: int = 0                 # answered calls in this campaign
    unanswered_streak: int = 0        # consecutive no-answer/busy/failed dials (picks the retry delay)
    last_status: str | None = None
    last_outcome: str | None = None
    voices: list[str] = []            # voice of each answered call, in order
    next_at: datetime | None = None   # earliest next dial (UTC)
    waiting_for: str | None = None    # retry | redial | callback | promise_follow_up | window | daily_cap | weekly_cap
    follow_up: dict | None = None     # the broken promise the next dials are about (follow_up.py)
    note: str | None = None
    updated_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status == "done"


class CallRecord(BaseModel):
    """One dial, appended to the campaign's call log when it ends."""

    call_id: str
    campaign: str
    account_id: str
    worker: str
    attempt: int
    conversation: int
    stage: str
    voice: str
    status: str
    outcome: str | None = None
    score: int | None = None
    session_call_id: str | None = None   # the dialogue session's id (its record file's name)
    started_at: datetime                 # campaign clock
    ended_at: datetime
    wall_start: float                    # real time.time(), to see overlaps across processes
    wall_end: float
    error: str | None = None


class Lease(BaseModel):
    """A worker's exclusive right to dial one account, until it ends or expires."""

    campaign: str
    account_id: str
    worker: str
    token: str

    @property
    def value(self) -> str:
        return f"{self.token}|{self.campaign}|{self.worker}"

"""An SMS waiting for its time, and one that went out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class PendingSms(BaseModel):
    account: dict          # the account as it was when the trigger fired (rendering needs it later)
    trigger: str
    reference_at: datetime # the first reminder (the call) the delays count from
    due_at: datetime       # earliest send time, already moved into a send window
    held: str | None = None  # why it waits past its trigger time: window | weekly_cap | send_error
    ref: str | None = None   # what a trigger that may fire again is about (a promise reminder: the promise)

    @property
    def account_id(self) -> str:
        return str(self.account["id"])

    @property
    def key(self) -> str:
        """One message per account and trigger (and ref), ever: a trigger fires once."""
        return f"{self.account_id}:{self.trigger}" + (f"#{self.ref}" if self.ref else "")


class SmsMessage(BaseModel):
    id: str
    account_id: str
    to: str | None
    locale: str
    trigger: str
    stage: str
    template: str
    text: str
    reference_at: datetime
    sent_at: datetime
    local_time: str        # the debtor's wall-clock time when sent, e.g. "2026-11-23T15:00:00-08:00"
    timezone: str

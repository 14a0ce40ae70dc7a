"""SMS rules from ../shared/SEEDS.md: short reminders sent only 9-11 am or 3-5 pm in the
debtor's time zone (never in rest hours), 2-3 a week at most, and three triggers per stage.
The debtor's time zone is the contact rules' (`dialogue.compliance.rules.debtor_time`): there
is no default zone, and a text is never sent at an unknown local hour."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dialogue.promises import REMINDER_TRIGGER
from telephony.campaign.config import parse_duration
from telephony.campaign.windows import LocalWindow

AFTER_CALL = "after_call_no_payment"   # the bill, minimum payment and how to pay, after a call without payment
FIVE_DAYS = "five_days_unpaid"         # card suspension and credit record, 5 days after the first reminder
EIGHT_DAYS = "eight_days_unpaid"       # contract and legal liability, 8 days after it
PROMISE_REMINDER = REMINDER_TRIGGER    # before a promised date (the stage's follow_up: policy), once per promise
TRIGGERS = (AFTER_CALL, FIVE_DAYS, EIGHT_DAYS, PROMISE_REMINDER)


class SmsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    send_windows: list[LocalWindow] = Field(
        default_factory=lambda: [LocalWindow.parse("09:00-11:00"), LocalWindow.parse("15:00-17:00")],
        min_length=1, description="local hours an SMS may go out; one due outside waits for the next")
    max_per_week: int = Field(3, ge=1, description="SMS per account in any 7 days")
    five_days: timedelta = Field(timedelta(days=5), description="first reminder -> five_days_unpaid")
    eight_days: timedelta = Field(timedelta(days=8), description="first reminder -> eight_days_unpaid")
    in_flight_s: float = Field(
        120.0, gt=0, description="a message taken by a sender that died becomes due again after this")

    @field_validator("send_windows", mode="before")
    @classmethod
    def _windows(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return [LocalWindow.parse(v) if isinstance(v, str) else v for v in value]
        return value

    @field_validator("five_days", "eight_days", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    def delay(self, trigger: str) -> timedelta:
        return {AFTER_CALL: timedelta(0), FIVE_DAYS: self.five_days, EIGHT_DAYS: self.eight_days}[trigger]

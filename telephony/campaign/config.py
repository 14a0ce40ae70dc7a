"""Campaign rules in one validated object, so the CLI, the workers and the tests agree on them.

Defaults follow ../shared/SEEDS.md and common contact rules: call only 08:00-21:00 in the
debtor's own time zone, a few dials a day and a week at most (counted across every campaign,
because the limit protects the person, not the campaign), a redial schedule for unanswered
calls, and one redial with the other voice for a customer who answered but did not commit.
There is no default time zone: the debtor's clock is the contact rules' own
(`dialogue.compliance.rules.debtor_time`), and an account without one is not called.
"""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from telephony.campaign.windows import LocalWindow

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """"30m", "2h", "1d", "45s"."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"duration {text!r}: expected a number and s, m, h or d (e.g. 30m)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _durations(value: object) -> object:
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [parse_duration(v) if isinstance(v, str) else v for v in value]
    return value


class CampaignConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calling_window: LocalWindow = Field(
        default_factory=lambda: LocalWindow.parse("08:00-21:00"),
        description="local hours in which a call may start, in the account's time zone")
    max_calls_per_day: int = Field(3, ge=1, description="dials per account per local calendar day")
    max_calls_per_week: int = Field(7, ge=1, description="dials per account in any 7 days")
    max_attempts: int = Field(6, ge=1, description="dials per account in this campaign")
    max_answered: int = Field(
        2, ge=1, description="answered calls without a commitment before the campaign stops "
                             "(the first call, then one redial with the other voice)")
    retry_delays: list[timedelta] = Field(
        default_factory=lambda: [timedelta(minutes=30), timedelta(hours=2), timedelta(days=1)],
        description="wait after the 1st, 2nd, 3rd... consecutive no-answer/busy/failed dial; "
                    "the last one repeats")
    redial_after_no_promise: timedelta = Field(
        timedelta(days=1), description="wait before redialling, with the other voice, a customer "
                                       "who answered without a promise")
    callback_default: timedelta = Field(timedelta(days=1), description="when no callback date was given")
    concurrency: int = Field(2, ge=1, description="calls in progress at once across all workers")
    lease_ttl_s: float = Field(60.0, gt=0, description="a dead worker's accounts free up after this")
    poll_s: float = Field(0.5, gt=0, description="idle wait between looks for due accounts")

    @field_validator("retry_delays", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _durations(value)

    @field_validator("redial_after_no_promise", "callback_default", mode="before")
    @classmethod
    def _one_duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("calling_window", mode="before")
    @classmethod
    def _window(cls, value: object) -> object:
        return LocalWindow.parse(value) if isinstance(value, str) else value

    def retry_delay(self, unanswered_in_a_row: int) -> timedelta:
        index = max(0, min(unanswered_in_a_row, len(self.retry_delays)) - 1)
        return self.retry_delays[index]

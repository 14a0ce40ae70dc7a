"""Local-time windows: when an account may be called (08:00-21:00 by default) or sent an SMS
(09:00-11:00 and 15:00-17:00).  Rules about contact hours speak of the *debtor's* clock, so
every check converts to the account's time zone first (zoneinfo, DST included)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, model_validator

from telephony.campaign.clock import utc

_SPEC = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class LocalWindow(BaseModel):
    """[start, end) in local wall-clock time; a contact must *start* inside it."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> "LocalWindow":
        if not self.start < self.end:
            raise ValueError(f"window start {self.start} must be before its end {self.end}")
        return self

    @classmethod
    def parse(cls, spec: str) -> "LocalWindow":
        """"08:00-21:00"."""
        match = _SPEC.match(spec)
        if not match:
            raise ValueError(f"window {spec!r}: expected HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return cls(start=time(h1, m1), end=time(h2, m2))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def local(at: datetime, tz: ZoneInfo) -> datetime:
    return utc(at).astimezone(tz)


def _at(day: date, when: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, when, tzinfo=tz)


def inside(windows: Sequence[LocalWindow], at: datetime, tz: ZoneInfo) -> bool:
    here = local(at, tz)
    return any(_at(here.date(), w.start, tz) <= here < _at(here.date(), w.end, tz) for w in windows)


def next_opening(windows: Sequence[LocalWindow], at: datetime, tz: ZoneInfo) -> datetime:
    """`at` itself when it is inside a window, else the next window start (UTC)."""
    here = local(at, tz)
    ordered = sorted(windows, key=lambda w: w.start)
    for offset in range(0, 8):
        day = here.date() + timedelta(days=offset)
        for window in ordered:
            start, end = _at(day, window.start, tz), _at(day, window.end, tz)
            if here < end:
                return utc(max(start, here))
    raise ValueError("no window opens within a week")  # unreachable with a non-empty list


def next_local_midnight(at: datetime, tz: ZoneInfo) -> datetime:
    here = local(at, tz)
    return utc(_at(here.date() + timedelta(days=1), time(0), tz))


def local_day_start(at: datetime, tz: ZoneInfo) -> datetime:
    here = local(at, tz)
    return utc(_at(here.date(), time(0), tz))

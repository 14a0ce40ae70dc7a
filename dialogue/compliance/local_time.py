"""The one answer to "what time is it for this debtor, and when may they be contacted".

The legal rules, the campaign scheduler and the SMS sender all ask it; before, campaigns and
SMS fell back to UTC for an account without a time zone while the law used the phone's
region, so a Chicago debtor could get a 07:00 text while the rules engine thought it 08:00.

Where the debtor's clock is, in order:
1. the account's own `timezone`;
2. the zones of its phone number (libphonenumber: country and area code);
3. the jurisdiction profile's `timezones` (for `us`, every US zone).
Several candidate zones (Alaska's two, or "somewhere in the US") mean the MOST RESTRICTIVE
reading: a contact must fit its window in every one. Nothing known means no contact at all,
never a silent UTC: `known` is False and `problem` says why, and the callers refuse.

Pure: time is always passed in, nothing reads a clock, a file or a socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialogue.compliance.profile import CallingWindow, JurisdictionProfile
from dialogue.compliance.regions import region_of
from dialogue.phone_masking import mask_phone

if TYPE_CHECKING:  # dialogue.accounts imports dialogue.phones only; keep it that way
    from dialogue.accounts import Account

Source = Literal["account", "phone", "jurisdiction", "unknown"]
WEEK = timedelta(days=8)   # a daily window opens within this, in one zone


def utc(at: datetime) -> datetime:
    """`at` in UTC; a naive time is refused, since its zone would be a guess."""
    if at.tzinfo is None:
        raise ValueError(f"time {at.isoformat()} has no time zone; pass an aware datetime")
    return at.astimezone(timezone.utc)


@dataclass(frozen=True)
class DebtorTime:
    """The debtor's possible clocks (first = the one shown and used for local dates) and the
    jurisdiction's calling window, if a profile applies."""

    zones: tuple[ZoneInfo, ...]
    source: Source
    legal_window: CallingWindow | None = None
    problem: str | None = None    # why no zone is known

    @classmethod
    def fixed(cls, name: str, legal_window: CallingWindow | None = None) -> DebtorTime:
        """One known zone (tests and tools that already know it)."""
        return cls((ZoneInfo(name),), "account", legal_window)

    @property
    def known(self) -> bool:
        return bool(self.zones)

    @property
    def primary(self) -> ZoneInfo:
        if not self.zones:
            raise ValueError(self.problem or "the debtor's time zone is unknown")
        return self.zones[0]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(z.key for z in self.zones)

    # -- local calendar (primary zone) ---------------------------------------------------
    def local(self, at: datetime) -> datetime:
        return utc(at).astimezone(self.primary)

    def local_date(self, at: datetime) -> date:
        return self.local(at).date()

    def day_start(self, at: datetime) -> datetime:
        """The debtor's local midnight that began `at`'s day (UTC)."""
        return utc(datetime.combine(self.local_date(at), time(0), tzinfo=self.primary))

    def next_midnight(self, at: datetime) -> datetime:
        return utc(datetime.combine(self.local_date(at) + timedelta(days=1), time(0), tzinfo=self.primary))

    # -- windows (every zone) ------------------------------------------------------------
    def within_law(self, windows: Sequence[CallingWindow]) -> list[CallingWindow]:
        """`windows` cut to the jurisdiction's calling window (a setting may be stricter than
        the law, never looser); empty when none overlaps it."""
        law = self.legal_window
        if law is None:
            return list(windows)
        cut = [(max(w.start, law.start), min(w.end, law.end)) for w in windows]
        return [CallingWindow(start=s, end=e) for s, e in cut if s < e]

    def outside(self, windows: Sequence[CallingWindow], at: datetime) -> ZoneInfo | None:
        """The first candidate zone whose wall clock at `at` is in none of `windows`; raises
        ValueError when no zone is known (there is no local hour to judge)."""
        for tz in self.zones or (self.primary,):
            here = utc(at).astimezone(tz).time()
            if not any(w.start <= here < w.end for w in windows):
                return tz
        return None

    def inside(self, windows: Sequence[CallingWindow], at: datetime) -> bool:
        """Inside a window in every candidate zone; never when no zone is known."""
        return self.known and self.outside(windows, at) is None

    def boundaries(self, moments: Iterable[time], after: datetime, until: datetime) -> list[datetime]:
        """Every instant in (after, until] at which some candidate zone's wall clock shows one
        of `moments`: where an answer that depends on local hours can change."""
        out, moments = set(), tuple(moments)
        for tz in self.zones:
            first = utc(after).astimezone(tz).date() - timedelta(days=1)
            for offset in range((until - after).days + 3):
                for moment in moments:
                    out.add(utc(datetime.combine(first + timedelta(days=offset), moment, tzinfo=tz)))
        return sorted(t for t in out if after < t <= until)

    def next_opening(self, windows: Sequence[CallingWindow], at: datetime,
                     horizon: timedelta = WEEK) -> datetime | None:
        """`at` when it is inside a window in every zone, else the first window start after it
        that is (UTC); None when no such moment comes within `horizon` (zones too far apart)."""
        if self.inside(windows, at):
            return utc(at)
        starts = self.boundaries((w.start for w in windows), at, utc(at) + horizon)
        return next((t for t in starts if self.inside(windows, t)), None)


def _account_zone(account: Account, law: CallingWindow | None) -> DebtorTime:
    try:
        return DebtorTime((ZoneInfo(account.timezone or ""),), "account", law)
    except (ZoneInfoNotFoundError, ValueError):
        return DebtorTime((), "unknown", law, f"account {account.id}: unknown time zone {account.timezone!r}")


def resolve(account: Account, profile: JurisdictionProfile | None) -> DebtorTime:
    """The debtor's clock and calling window; `profile` is the account's jurisdiction's (or
    None when it has none), passed in so that this stays free of file reads."""
    law = profile.calling_window if profile else None
    if account.timezone:
        return _account_zone(account, law)
    zones = region_of(account.phone)[1]
    if zones:
        return DebtorTime(tuple(ZoneInfo(z) for z in zones), "phone", law)
    if profile and profile.timezones:
        return DebtorTime(tuple(ZoneInfo(z) for z in profile.timezones), "jurisdiction", law)
    where = f" nor jurisdiction {profile.name!r}" if profile else ""
    return DebtorTime((), "unknown", law, f"account {account.id} has no time zone and neither its phone "
                      f"{mask_phone(account.phone) or '(none)'}{where} gives one")

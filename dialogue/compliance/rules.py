"""The one contact-rules engine: may this account be called at this instant, and if not,
which rule forbids it and when is the next allowed time.

Pure: the caller passes the time (`at`), the account's past attempts and its opt-out flag;
nothing here reads a clock, a store or a socket, so the campaign worker, the media-stream
server and the CLI ask exactly the same question and tests can stand on any rule's edge.

The next allowed time is found by checking, in order, the instants at which some rule's
answer can change (window openings in every candidate zone, local midnights, an old attempt
leaving the rolling window, a quiet period ending): the rules are constant between those
instants, so the first candidate that passes every rule is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialogue.accounts import Account
from dialogue.compliance.profile import JurisdictionProfile, ProfileError, load_profile
from dialogue.compliance.regions import region_of
from dialogue.phone_masking import mask_phone

HORIZON = timedelta(days=60)   # look no further for a next allowed time (covers long holidays)


@dataclass(frozen=True)
class Attempt:
    """One earlier dial of this debt (any campaign, any call start)."""

    at: datetime
    connected: bool = False       # someone answered
    conversation: bool = False    # right-party contact: the debtor, identity confirmed
    number: str | None = None     # the number dialled (per-number caps); None counts everywhere


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str | None              # the forbidding rule's name, None when allowed
    reason: str
    next_allowed_at: datetime | None   # UTC; None when never (opted out) or unknown
    jurisdiction: str | None = None
    zones: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"allowed": self.allowed, "rule": self.rule, "reason": self.reason,
                "next_allowed_at": self.next_allowed_at.isoformat() if self.next_allowed_at else None,
                "jurisdiction": self.jurisdiction, "zones": list(self.zones)}


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"time {at.isoformat()} has no time zone; pass an aware datetime")
    return at.astimezone(timezone.utc)


def zones_for(account: Account) -> tuple[ZoneInfo, ...]:
    """The account's time zone, else the phone region's candidate zones (a fallback)."""
    if account.timezone:
        try:
            return (ZoneInfo(account.timezone),)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"account {account.id}: unknown time zone {account.timezone!r}") from None
    return tuple(ZoneInfo(name) for name in region_of(account.phone)[1])


def local_today(account: Account, now: datetime | None = None) -> date:
    """The debtor's own calendar date at ``now`` (default: the current instant), so "tomorrow"
    said at 4 pm in Honolulu is Honolulu's tomorrow, not the server's.  Without a time zone
    or a recognisable phone region, the server's date."""
    zones = zones_for(account)
    instant = now or datetime.now(timezone.utc)
    if not zones:
        return instant.date() if now else date.today()
    return _utc(instant).astimezone(zones[0]).date()


def jurisdiction_for(account: Account) -> str | None:
    """The account's jurisdiction, else the one its phone number's country suggests."""
    return account.jurisdiction or region_of(account.phone)[0]


class _Check:
    """Every rule of one profile for one account, evaluated at any instant."""

    def __init__(self, profile: JurisdictionProfile, zones: Sequence[ZoneInfo], history: Sequence[Attempt],
                 number: str | None):
        self.p, self.zones = profile, tuple(zones)
        self.history = sorted((_with_utc(a) for a in history), key=lambda a: a.at)
        self.number = number

    def _day_start(self, at: datetime) -> datetime:
        here = at.astimezone(self.zones[0])
        return datetime.combine(here.date(), time(0), tzinfo=self.zones[0]).astimezone(timezone.utc)

    def first_broken(self, at: datetime) -> tuple[str, str] | None:
        p, limits = self.p, self.p.limits
        for tz in self.zones:
            here = at.astimezone(tz)
            if here.date() in p.holidays:
                return "holidays", f"{here.date().isoformat()} is a public holiday ({tz.key})"
            if not (p.calling_window.start <= here.time() < p.calling_window.end):
                return ("calling_window", f"{here:%H:%M} {tz.key} is outside "
                        f"{p.calling_window.start:%H:%M}-{p.calling_window.end:%H:%M} local time")
        past = [a for a in self.history if a.at <= at]
        if limits.quiet_days_after_conversation:
            quiet = timedelta(days=limits.quiet_days_after_conversation)
            talks = [a.at for a in past if a.conversation and at < a.at + quiet]
            if talks:
                return ("quiet_days_after_conversation", f"a conversation about this debt on "
                        f"{talks[-1]:%Y-%m-%d %H:%M} UTC; no call for {limits.quiet_days_after_conversation} days after")
        if limits.per_debt_in_days:
            span = timedelta(days=limits.days)
            recent = [a for a in past if a.at > at - span]
            if len(recent) >= limits.per_debt_in_days:
                return ("per_debt_in_days", f"{len(recent)} attempts in the last {limits.days} days "
                        f"(limit {limits.per_debt_in_days})")
        today = [a for a in past if a.at >= self._day_start(at)]
        if limits.connected_per_day:
            connected = sum(a.connected for a in today)
            if connected >= limits.connected_per_day:
                return "connected_per_day", f"{connected} connected calls today (limit {limits.connected_per_day})"
        if limits.unanswered_per_day:
            missed = sum(not a.connected and (a.number is None or self.number is None or a.number == self.number)
                         for a in today)
            if missed >= limits.unanswered_per_day:
                return ("unanswered_per_day", f"{missed} unanswered attempts today on this number "
                        f"(limit {limits.unanswered_per_day})")
        return None

    def candidates(self, at: datetime) -> list[datetime]:
        limits, out = self.p.limits, set()
        first = at.astimezone(self.zones[0]).date() - timedelta(days=1)
        for tz in self.zones:
            for offset in range(HORIZON.days + 2):
                day = first + timedelta(days=offset)
                for moment in (self.p.calling_window.start, time(0)):
                    out.add(datetime.combine(day, moment, tzinfo=tz).astimezone(timezone.utc))
        for attempt in self.history:
            out.add(attempt.at + timedelta(days=limits.days))
            if limits.quiet_days_after_conversation and attempt.conversation:
                out.add(attempt.at + timedelta(days=limits.quiet_days_after_conversation))
        return sorted(t for t in out if at < t <= at + HORIZON)


def _with_utc(attempt: Attempt) -> Attempt:
    return Attempt(_utc(attempt.at), attempt.connected, attempt.conversation, attempt.number)


def may_call(account: Account, history: Sequence[Attempt], at: datetime, *, opted_out: bool = False,
             profile: JurisdictionProfile | None = None) -> Decision:
    """May `account` be dialled at `at` (aware), given its earlier attempts and opt-out flag?"""
    at = _utc(at)
    name = profile.name if profile else jurisdiction_for(account)
    if opted_out:
        return Decision(False, "opt_out", "the debtor asked not to be called again", None, name)
    if profile is None:
        if not name:
            return Decision(False, "jurisdiction", f"account {account.id} has no jurisdiction and its phone "
                            f"{mask_phone(account.phone) or '(none)'} does not suggest one", None)
        try:
            profile = load_profile(name)
        except ProfileError as exc:
            return Decision(False, "jurisdiction", str(exc), None, name)
    try:
        zones = zones_for(account)
    except ValueError as exc:
        return Decision(False, "timezone", str(exc), None, profile.name)
    keys = tuple(z.key for z in zones)
    if not zones:
        return Decision(False, "timezone", f"account {account.id} has no time zone and its phone "
                        f"{mask_phone(account.phone) or '(none)'} does not suggest one", None, profile.name)
    check = _Check(profile, zones, history, account.phone)
    broken = check.first_broken(at)
    if broken is None:
        return Decision(True, None, "allowed", None, profile.name, keys)
    rule, reason = broken
    following = next((t for t in check.candidates(at) if check.first_broken(t) is None), None)
    return Decision(False, rule, reason, following, profile.name, keys)

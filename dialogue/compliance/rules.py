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
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dialogue.compliance.local_time import DebtorTime, resolve, utc
from dialogue.compliance.no_call_days import check_subdivision, holiday_name, subdivision_of_phone
from dialogue.compliance.profile import JurisdictionProfile, ProfileError, load_profile
from dialogue.compliance.regions import region_of
from dialogue.phone_masking import mask_phone

if TYPE_CHECKING:
    from dialogue.accounts import Account

HORIZON = timedelta(days=60)   # look no further for a next allowed time (covers long holidays)


@dataclass(frozen=True)
class Attempt:
    """One earlier contact about this debt (any campaign, any call start, a call in, a text).

    The caps count what the collector initiated: outbound calls, and outbound texts where the
    profile says so (`limits.texts_count`); a call the debtor made is no attempt, but a
    conversation on it starts the quiet days like any other."""

    at: datetime
    connected: bool = False       # someone answered
    conversation: bool = False    # right-party contact: the debtor, identity confirmed
    number: str | None = None     # the number dialled (per-number caps); None counts everywhere
    channel: str = "call"         # call | sms
    direction: str = "outbound"   # outbound | inbound (the debtor called)
    ref: str | None = None        # its id where it is logged (a call id): merging two logs, not the rules


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


def jurisdiction_for(account: Account) -> str | None:
    """The account's jurisdiction, else the one its phone number's country suggests."""
    return account.jurisdiction or region_of(account.phone)[0]


def profile_for(account: Account) -> JurisdictionProfile | None:
    """The account's jurisdiction profile (read once, cached), or None when it has none or
    names one that does not load (`may_call` reports that as the `jurisdiction` rule)."""
    name = jurisdiction_for(account)
    try:
        return load_profile(name) if name else None
    except ProfileError:
        return None


def debtor_time(account: Account) -> DebtorTime:
    """The account's clock and calling window, the same answer for the legal rules, the
    campaign scheduler and SMS (`dialogue.compliance.local_time.resolve` with its profile)."""
    return resolve(account, profile_for(account))


def zones_for(account: Account) -> tuple[ZoneInfo, ...]:
    """The account's candidate time zones (see `debtor_time`); raises ValueError for an
    account whose own time zone is not a zone name."""
    clock = debtor_time(account)
    if not clock.known and account.timezone:
        raise ValueError(clock.problem)
    return clock.zones


def local_today(account: Account, now: datetime | None = None) -> date:
    """The debtor's own calendar date at ``now`` (default: the current instant), so "tomorrow"
    said at 4 pm in Honolulu is Honolulu's tomorrow, not the server's.  Without a known time
    zone, the server's date (this dates what the debtor says; it never allows a call)."""
    clock = debtor_time(account)
    if not clock.known:
        return utc(now).date() if now else date.today()
    return clock.local_date(now or datetime.now(timezone.utc))


class _Check:
    """Every rule of one profile for one account, evaluated at any instant."""

    def __init__(self, profile: JurisdictionProfile, clock: DebtorTime, history: Sequence[Attempt],
                 number: str | None, subdivision: str | None = None):
        self.p, self.clock = profile, clock
        self.history = sorted((_with_utc(a) for a in history), key=lambda a: a.at)
        counted = ("call", "sms") if profile.limits.texts_count else ("call",)
        self.dials = [a for a in self.history if a.direction == "outbound" and a.channel in counted]
        self.calls = [a for a in self.dials if a.channel == "call"]  # the per-day caps are about calls
        self.number, self.subdivision = number, subdivision

    def _no_call_day(self, at: datetime) -> tuple[str, str] | None:
        for tz in self.clock.zones:
            day = at.astimezone(tz).date()
            name = holiday_name(self.p.holidays, day, self.subdivision)
            if name:
                return "holidays", f"{day.isoformat()} is a public holiday ({name}; {tz.key})"
        return None

    def first_broken(self, at: datetime) -> tuple[str, str] | None:
        p, limits = self.p, self.p.limits
        holiday = self._no_call_day(at)
        if holiday:
            return holiday
        tz = self.clock.outside([p.calling_window], at)
        if tz is not None:
            return ("calling_window", f"{at.astimezone(tz):%H:%M} {tz.key} is outside "
                    f"{p.calling_window} local time")
        if limits.quiet_days_after_conversation:
            quiet = timedelta(days=limits.quiet_days_after_conversation)
            talks = [a.at for a in self.history if a.at <= at and a.conversation and at < a.at + quiet]
            if talks:
                return ("quiet_days_after_conversation", f"a conversation about this debt on "
                        f"{talks[-1]:%Y-%m-%d %H:%M} UTC; no call for {limits.quiet_days_after_conversation} days after")
        if limits.per_debt_in_days:
            span = timedelta(days=limits.days)
            recent = [a for a in self.dials if at - span < a.at <= at]
            if len(recent) >= limits.per_debt_in_days:
                return ("per_debt_in_days", f"{len(recent)} attempts in the last {limits.days} days "
                        f"(limit {limits.per_debt_in_days})")
        today = [a for a in self.calls if self.clock.day_start(at) <= a.at <= at]
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
        limits = self.p.limits
        out = set(self.clock.boundaries((self.p.calling_window.start, time(0)), at, at + HORIZON))
        for attempt in self.dials:
            out.add(attempt.at + timedelta(days=limits.days))
        for attempt in self.history:
            if limits.quiet_days_after_conversation and attempt.conversation:
                out.add(attempt.at + timedelta(days=limits.quiet_days_after_conversation))
        return sorted(t for t in out if at < t <= at + HORIZON)


def _with_utc(attempt: Attempt) -> Attempt:
    return replace(attempt, at=utc(attempt.at))


def may_call(account: Account, history: Sequence[Attempt], at: datetime, *, opted_out: bool = False,
             profile: JurisdictionProfile | None = None) -> Decision:
    """May `account` be dialled at `at` (aware), given its earlier attempts and opt-out flag?"""
    at = utc(at)
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
    clock = resolve(account, profile)
    if not clock.known:
        return Decision(False, "timezone", clock.problem or "unknown time zone", None, profile.name)
    subdivision = account.subdivision or subdivision_of_phone(profile.holidays, account.phone)
    try:
        check_subdivision(profile.holidays, subdivision)
    except ValueError as exc:
        return Decision(False, "holidays", f"account {account.id}: {exc}", None, profile.name, clock.keys)
    check = _Check(profile, clock, history, account.phone, subdivision)
    broken = check.first_broken(at)
    if broken is None:
        return Decision(True, None, "allowed", None, profile.name, clock.keys)
    rule, reason = broken
    following = next((t for t in check.candidates(at) if check.first_broken(t) is None), None)
    return Decision(False, rule, reason, following, profile.name, clock.keys)

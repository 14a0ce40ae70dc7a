"""Jurisdiction profiles: the contact rules and required disclosures a call must respect.

Profiles are data (scripts/jurisdictions/<name>.yaml) so that a compliance officer can
change a window or a cap without a code change; this model is the contract those files must
meet, and a bad file fails here, at load, with the file and the field named.
"""

from __future__ import annotations

import re
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_data
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dialogue.paths import scripts_root

_WINDOW_SPEC = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
DisclosureName = Literal["recording_notice", "debt_collection_notice"]
DISCLOSURES: tuple[str, ...] = ("recording_notice", "debt_collection_notice")


class ProfileError(ValueError):
    """A profile file is missing or invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CallingWindow(_Strict):
    """Local hours (the debtor's clock) in which a contact may start; `end` is exclusive.

    The one window type: a profile's legal window, a campaign's own window and the SMS send
    windows are all this, so the resolver can intersect them."""

    start: time = Field(description="first allowed local time, e.g. 08:00")
    end: time = Field(description="local time from which calls are forbidden, e.g. 21:00")

    @model_validator(mode="after")
    def _ordered(self) -> "CallingWindow":
        if self.end <= self.start:
            raise ValueError("calling_window.end must be after start (windows over midnight are not supported)")
        return self

    @classmethod
    def parse(cls, spec: str) -> "CallingWindow":
        """"08:00-21:00"."""
        match = _WINDOW_SPEC.match(spec)
        if not match:
            raise ValueError(f"window {spec!r}: expected HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return cls(start=time(h1, m1), end=time(h2, m2))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class HolidayRules(_Strict):
    """No-call days: a country's calendar from the `holidays` package, with the lender's own
    days added and generated days removed, so the list never runs out at a year's end.

    A profile written as a plain list of dates (`holidays: [2027-01-01, ...]`) has no
    `country`: that list is all there is, and the validator warns before it runs out."""

    country: str | None = Field(
        None, pattern=r"^[A-Z]{2}$", description="ISO country whose public holidays count (holidays package)")
    subdivisions: bool = Field(
        False, description="also the holidays of the account's `subdivision` (a US state, ...), when known")
    whole_breaks: bool = Field(
        False, description="weekend days joined to a holiday, minus make-up working days, count too "
                           "(the days off of China's State Council schedule)")
    add: list[date] = Field(default_factory=list, description="extra no-call days (the lender's own)")
    remove: list[date] = Field(default_factory=list, description="generated days on which calls are allowed")

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: object) -> object:
        return {"add": value} if isinstance(value, list) else value

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and value not in holiday_data.list_supported_countries():
            raise ValueError(f"the holidays package has no calendar for {value!r}")
        return value


class AttemptLimits(_Strict):
    """Caps on attempts; a null cap is not enforced by this jurisdiction."""

    per_debt_in_days: int | None = Field(
        None, ge=1, description="at most this many attempts per debt in any `days` consecutive days")
    days: int = Field(7, ge=1, description="length of the rolling window for per_debt_in_days")
    quiet_days_after_conversation: int | None = Field(
        None, ge=1, description="no attempt for this many days after a conversation about the debt")
    connected_per_day: int | None = Field(
        None, ge=1, description="at most this many connected calls a local day per debtor")
    unanswered_per_day: int | None = Field(
        None, ge=1, description="at most this many unanswered attempts a local day per number")
    texts_count: bool = Field(
        False, description="texts sent count toward per_debt_in_days like calls (house policy: Reg F's "
                           "7-in-7 counts telephone calls); the per-day caps count calls only")


class JurisdictionProfile(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="id used by accounts and strategies")
    title: str = Field(description="the law or guideline the profile follows, for reports")
    calling_window: CallingWindow
    holidays: HolidayRules = Field(default_factory=HolidayRules, description="local dates with no calls at all")
    timezones: list[str] = Field(
        default_factory=list, description="where this jurisdiction's debtors may be, used when neither the "
                                          "account nor its phone number says; a call must fit all of them")
    limits: AttemptLimits = Field(default_factory=AttemptLimits)
    opt_out_immediate: bool = Field(True, description="an opt-out blocks every later attempt at once")
    debtor_only: bool = Field(False, description="never call or speak to anyone but the debtor")
    required_disclosures: list[DisclosureName] = Field(
        default_factory=list, description="disclosures every stage script must contain")
    debt_notice_after_identity: bool = Field(
        True, description="the debt-collection notice may only be said once identity is confirmed")
    voicemail: Literal["leave_message", "hang_up"] = Field(
        description="on an answering machine: leave the limited-content message, or hang up")
    content_lint: str | None = Field(
        None, description="lint file (relative to scripts/) barring threats, insults, misleading words")

    @field_validator("timezones")
    @classmethod
    def _zones_exist(cls, value: list[str]) -> list[str]:
        for name in value:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {name!r}") from None
        return value

    @field_validator("required_disclosures")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("required_disclosures lists a disclosure twice")
        return value


def profiles_dir() -> Path:
    return scripts_root() / "jurisdictions"


def profile_path(name: str, folder: Path | None = None) -> Path:
    """The file that holds profile `name` (whether or not it exists)."""
    return (folder or profiles_dir()) / f"{name.lower()}.yaml"


def available_profiles(folder: Path | None = None) -> list[str]:
    folder = folder or profiles_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def parse_profile(path: Path) -> JurisdictionProfile:
    """Read and validate one profile file (no cache: the CLI and tests may point anywhere)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{path}: profile not found (available: "
                           f"{', '.join(available_profiles()) or 'none'})") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of profile fields")
    data.setdefault("name", path.stem)
    try:
        profile = JurisdictionProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ProfileError(f"{path}: {where}: {first['msg']}") from None
    if profile.name != path.stem:
        raise ProfileError(f"{path}: name {profile.name!r} differs from the file name {path.stem!r}")
    return profile


@lru_cache(maxsize=32)
def _cached(path: str, mtime: float) -> JurisdictionProfile:
    return parse_profile(Path(path))


def load_profile(name: str, folder: Path | None = None) -> JurisdictionProfile:
    """The named profile from scripts/jurisdictions/ (or `folder`), cached until the file changes."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ProfileError(f"bad jurisdiction name {name!r}")
    folder = folder or profiles_dir()
    path = profile_path(name, folder)
    if not path.is_file():
        raise ProfileError(f"unknown jurisdiction {name!r}: no {path} "
                           f"(available: {', '.join(available_profiles(folder)) or 'none'})")
    return _cached(str(path), path.stat().st_mtime)

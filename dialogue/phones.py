"""Phone numbers as the rest of the code needs them: one canonical form (E.164), and what a
number says about where its owner is (ISO region, candidate time zones).

Built on `phonenumbers` (libphonenumber's metadata), so every country code and every NANP
area code is known; a hand-made table of "common" codes put Connecticut (860) in China and
Ohio (440) in London by falling through to country codes. Pure: no I/O.

Fictional numbers (NANP 555-01xx) are *possible* but not *valid* to libphonenumber. Region and
zone lookups here go by the country and area code, so they still place such numbers; only a
plausible length (`is_possible_number`) is required.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat
from phonenumbers.timezone import time_zones_for_geographical_number, time_zones_for_number

UNKNOWN_ZONE = "Etc/Unknown"   # libphonenumber's answer when it cannot place a number

# Where a national number (written without +country code) belongs: the account's
# jurisdiction's home region, else its locale's (the region the shipped scripts for that
# locale are written for: scripts/en for `us`, scripts/zh for `cn`).
JURISDICTION_HOME = {"us": "US", "cn": "CN"}
LOCALE_HOME = {"en": "US", "zh": "CN"}


class PhoneError(ValueError):
    """A phone number that cannot be read, or has an impossible length for its country."""


@dataclass(frozen=True)
class PhonePlace:
    """Where a number points: its E.164 form, ISO region, and candidate zones.

    `zones` is empty when the number names only its country code and that code spans several
    zones (a toll-free number, an unassigned area code, a non-geographic mobile range): the
    caller then needs another source, never a guess."""

    e164: str
    country_code: int
    region: str | None      # the number's region; for an unassigned range, its code's main region
    zones: tuple[str, ...]


def home_region(jurisdiction: str | None, locale: str | None) -> str | None:
    """The default region for a national number: the jurisdiction's, else the locale's."""
    return JURISDICTION_HOME.get((jurisdiction or "").lower()) or LOCALE_HOME.get((locale or "").lower())


def parse_phone(raw: str, default_region: str | None = None) -> PhoneNumber:
    """Parse `raw` ("+1 860-555-0100", "(520) 555-0100" with region US, "0086 138..."); raise
    PhoneError when it is unreadable, lacks a country code and a default region, or has an
    impossible length."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]   # the international prefix of most countries
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if default_region or text.startswith("+") else \
            " (no +country code, and no default region to read it in)"
        raise PhoneError(f"phone {raw!r} is not a phone number: {exc}{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise PhoneError(f"phone {raw!r} has an impossible length for country code +{number.country_code}")
    return number


def to_e164(raw: str, default_region: str | None = None) -> str:
    """"+18605550100" for "860-555-0100" in region US; PhoneError when it cannot be read."""
    return phonenumbers.format_number(parse_phone(raw, default_region), PhoneNumberFormat.E164)


def _country_spread(country_code: int) -> tuple[str, ...]:
    """Every zone libphonenumber lists for the bare country code (its most general answer)."""
    return tuple(time_zones_for_geographical_number(PhoneNumber(country_code=country_code, national_number=0)))


def place_of(phone: str | None, default_region: str | None = None) -> PhonePlace | None:
    """Region and candidate zones of a number (accounts hold E.164 after load; a national
    number needs `default_region`); None when there is none or it cannot be read."""
    if not phone:
        return None
    try:
        number = parse_phone(phone, default_region)
    except PhoneError:
        return None
    zones = tuple(time_zones_for_number(number))
    if zones == (UNKNOWN_ZONE,):   # invalid (e.g. fictional) numbers: look up by prefix only
        zones = tuple(time_zones_for_geographical_number(number))
    zones = tuple(z for z in zones if z != UNKNOWN_ZONE)
    if len(zones) > 1 and zones == _country_spread(number.country_code):
        zones = ()   # the number names its country code only, not where in it
    region = (phonenumbers.region_code_for_number(number)
              or phonenumbers.region_code_for_country_code(number.country_code))
    return PhonePlace(phonenumbers.format_number(number, PhoneNumberFormat.E164), number.country_code,
                      None if region in (None, "ZZ", "001") else region, zones)


def place_name(phone: str | None, default_region: str | None = None) -> tuple[str, str] | None:
    """(region, libphonenumber's English name of the place the number's prefix belongs to),
    e.g. ("US", "Connecticut") or ("US", "San Francisco, CA"); None when the number cannot be
    read or names no place (a mobile range in many countries, a toll-free number)."""
    from phonenumbers import geocoder  # loads its prefix tables on first use only

    place = place_of(phone, default_region)
    if place is None or place.region is None:
        return None
    name = geocoder.description_for_number(parse_phone(place.e164), "en", region=place.region)
    return (place.region, name) if name else None

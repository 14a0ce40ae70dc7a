"""Where a debtor is, when the account does not say: a FALLBACK from the phone number.

The account's own `timezone` (and `jurisdiction`) always win. When they are missing, the
number's country code (and, inside the North American Numbering Plan, its area code) gives a
best guess. A NANP number whose area code is not in the small table below maps to every
mainland US zone: the rules engine then only calls when it is inside the window in all of
them, which is what Regulation F expects when the location is ambiguous. Mobile numbers
move with their owners, so keep account time zones filled in where you can.
"""

from __future__ import annotations

import re

_US_ALL = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
           "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu")

# NANP area code -> zone. A sample of common codes per zone, not the full plan.
_NANP: dict[str, str] = {
    **dict.fromkeys(("201", "202", "203", "212", "215", "216", "267", "301", "305", "313", "347",
                     "404", "412", "516", "617", "646", "703", "718", "786", "857", "908", "917",
                     "919", "954", "416", "514", "613", "647"), "America/New_York"),
    **dict.fromkeys(("205", "210", "214", "312", "314", "469", "504", "512", "612", "615", "713",
                     "773", "816", "832", "872", "901", "972", "204"), "America/Chicago"),
    **dict.fromkeys(("303", "385", "406", "505", "720", "801", "403", "587", "780"), "America/Denver"),
    **dict.fromkeys(("480", "520", "602", "623", "928"), "America/Phoenix"),
    **dict.fromkeys(("206", "213", "253", "310", "323", "360", "408", "415", "425", "503", "510",
                     "619", "626", "650", "702", "714", "818", "858", "909", "916", "971", "604",
                     "778"), "America/Los_Angeles"),
    "907": "America/Anchorage",
    "808": "Pacific/Honolulu",
}

# Country calling code -> (jurisdiction profile or None, zones). Multi-zone countries list their
# most populous zone; prefer the account's own time zone for them.
_COUNTRIES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "86": ("cn", ("Asia/Shanghai",)),
    "852": (None, ("Asia/Hong_Kong",)),
    "853": (None, ("Asia/Macau",)),
    "886": (None, ("Asia/Taipei",)),
    "44": (None, ("Europe/London",)),
    "49": (None, ("Europe/Berlin",)),
    "33": (None, ("Europe/Paris",)),
    "65": (None, ("Asia/Singapore",)),
    "81": (None, ("Asia/Tokyo",)),
    "91": (None, ("Asia/Kolkata",)),
    "61": (None, ("Australia/Sydney",)),
    "52": (None, ("America/Mexico_City",)),
}

_DIGITS = re.compile(r"\D")


def _e164(phone: str) -> str:
    """Digits after the country code marker; numbers without '+' are taken as already E.164."""
    return _DIGITS.sub("", phone.strip().removeprefix("00"))


def region_of(phone: str | None) -> tuple[str | None, tuple[str, ...]]:
    """(jurisdiction guess, candidate zones) for a phone number; ((None, ()) when unknown)."""
    if not phone:
        return None, ()
    digits = _e164(phone)
    if digits.startswith("1") and len(digits) == 11:
        zone = _NANP.get(digits[1:4])
        return "us", ((zone,) if zone else _US_ALL)
    for length in (3, 2):
        hit = _COUNTRIES.get(digits[:length])
        if hit:
            return hit
    return None, ()

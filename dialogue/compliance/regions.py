"""Where a debtor is, when the account does not say: a FALLBACK from the phone number.

The account's own `timezone` (and `jurisdiction`) always win. When they are missing, the
number's region and zones come from libphonenumber's metadata (`dialogue.phones`): every
country code and NANP area code, so Connecticut (860) is New York time in the US, Toronto
(416) is Canada, Puerto Rico (787) is Atlantic time. A number that names only its country
code, not where in it (an unassigned or toll-free NANP code), gives no zone here: the
resolver (`dialogue.compliance.local_time`) then uses the jurisdiction's own zones, all of
them (Regulation F's answer when the location is ambiguous). Mobile numbers move with their
owners, so keep account time zones filled in where you can.
"""

from __future__ import annotations

from dialogue.phones import place_of

# ISO region -> jurisdiction profile. The FDCPA and Regulation F reach the US territories too.
# Add a country here when its numbers should map to a profile without an account field.
JURISDICTIONS: dict[str, str] = {
    **dict.fromkeys(("US", "PR", "VI", "GU", "AS", "MP"), "us"),
    "CN": "cn",
}


def region_of(phone: str | None, default_region: str | None = None) -> tuple[str | None, tuple[str, ...]]:
    """(jurisdiction guess, candidate zones) for a phone number; (None, ()) when unknown.

    A number with a country code but no place inside it gives (jurisdiction, ()). A national
    number (no +country code) is read in `default_region` (e.g. "US"), else not at all."""
    place = place_of(phone, default_region)
    if place is None:
        return None, ()
    return JURISDICTIONS.get(place.region or ""), place.zones

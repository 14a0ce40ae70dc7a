"""Contact rules per jurisdiction: profiles (data), the rules engine, the debtor's clock.

Pure logic: the only I/O is reading a profile's YAML in `load_profile` (which `debtor_time`
and `may_call` use when no profile is passed in).
"""

from dialogue.compliance.local_time import DebtorTime, resolve
from dialogue.compliance.profile import (
    DISCLOSURES,
    JurisdictionProfile,
    ProfileError,
    available_profiles,
    load_profile,
)
from dialogue.compliance.rules import Attempt, Decision, debtor_time, jurisdiction_for, may_call, zones_for

__all__ = ["DISCLOSURES", "Attempt", "DebtorTime", "Decision", "JurisdictionProfile", "ProfileError",
           "available_profiles", "debtor_time", "jurisdiction_for", "load_profile", "may_call", "resolve",
           "zones_for"]

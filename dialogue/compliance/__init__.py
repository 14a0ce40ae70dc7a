"""Contact rules per jurisdiction: profiles (data), the rules engine, time zones.

Pure logic: the only I/O is reading a profile's YAML in `load_profile`.
"""

from dialogue.compliance.profile import (
    DISCLOSURES,
    JurisdictionProfile,
    ProfileError,
    available_profiles,
    load_profile,
)
from dialogue.compliance.rules import Attempt, Decision, jurisdiction_for, may_call, zones_for

__all__ = ["DISCLOSURES", "Attempt", "Decision", "JurisdictionProfile", "ProfileError", "available_profiles",
           "jurisdiction_for", "load_profile", "may_call", "zones_for"]

"""The one place `dialogue` reads the process environment.

Why a reader here rather than a parameter: the scripts folder, a Rasa server for every locale and
the NLU model cache are deployment-wide defaults that the engine's many entry points (the server,
the campaigns, the CLI's validator) reach through this layer, which must not import the engine's
settings (`voicebot/config.py` declares each name read here, with its meaning and default). Read
at each call, never at import, so a value a test or a command sets first is seen.
"""

from __future__ import annotations

import os

SCRIPTS_ENV = "VOICEBOT_SCRIPTS"
RASA_URL_ENV = "VOICEBOT_RASA_URL"
CACHE_ENV = "VOICEBOT_CACHE"


def setting(name: str) -> str | None:
    """One of the variables above; None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None

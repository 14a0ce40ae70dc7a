"""Which script and which voice a dial uses: the locale's strategy maps days overdue to a stage,
and the stage lists voices that alternate from one answered call to the next (the seeds: a
customer who answered but did not pay hears the other voice next time)."""

from __future__ import annotations

from collections.abc import Callable

from dialogue.accounts import Account
from dialogue.script.loader import LocaleScripts


def engine_scripts(locale: str) -> LocaleScripts:
    from dialogue.engine import engine_for  # the process-wide engine, loaded once per locale

    return engine_for(locale).scripts


ScriptsFor = Callable[[str], LocaleScripts]


def stage_for(account: Account, scripts_for: ScriptsFor = engine_scripts) -> str:
    return scripts_for(account.locale).stage_for_days(account.days_overdue).name


def voice_for(account: Account, stage: str, conversation: int, scripts_for: ScriptsFor = engine_scripts) -> str:
    """The voice CallSession will use with `attempt=conversation` (same rotation rule)."""
    voices = scripts_for(account.locale).stage_entry(stage).voices
    return voices[(conversation - 1) % len(voices)]

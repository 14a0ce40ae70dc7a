"""Entry point for running calls: one loaded locale (scripts + NLU) shared by every call.

Loading is the slow part (YAML checks, classifier training or cache load), so it happens once
per process and locale; starting a call is cheap."""

from __future__ import annotations

from collections.abc import Sequence

from datetime import date
from functools import lru_cache
from pathlib import Path

from dialogue.accounts import Account
from dialogue.nlu.factory import build_nlu
from dialogue.nlu.result import NluBackend
from dialogue.paths import locale_dir
from dialogue.script.checks import load_locale
from dialogue.script.loader import LocaleScripts
from dialogue.session import CallSession


class DialogueEngine:
    def __init__(self, scripts: LocaleScripts, nlu: NluBackend):
        self.scripts, self.nlu = scripts, nlu

    @classmethod
    def from_folder(cls, folder: Path) -> "DialogueEngine":
        scripts = load_locale(folder)
        return cls(scripts, build_nlu(scripts))

    def start_call(self, account: Account, stage: str | None = None, attempt: int = 1,
                   today: date | None = None, call_id: str | None = None, inbound: bool = False,
                   other_accounts: Sequence[Account] = (), verification_locked: bool = False) -> CallSession:
        return CallSession(self.scripts, self.nlu, account, stage, attempt, today, call_id,
                           inbound=inbound, other_accounts=other_accounts,
                           verification_locked=verification_locked)


@lru_cache(maxsize=8)
def engine_for(locale: str) -> DialogueEngine:
    """The process-wide engine of a shipped (or VOICEBOT_SCRIPTS) locale."""
    return DialogueEngine.from_folder(locale_dir(locale))

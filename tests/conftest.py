"""Shared fixtures: the shipped locales loaded once per test session (real scripts, real NLU)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dialogue.accounts import Account, load_accounts
from dialogue.engine import DialogueEngine, engine_for

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ACCOUNTS = REPO / "scripts" / "accounts" / "sample_accounts.json"
CALL_DATE = date(2026, 11, 23)  # a Monday; sample accounts are 2, 4 and 7 days overdue on it


@pytest.fixture(scope="session")
def engines() -> dict[str, DialogueEngine]:
    return {locale: engine_for(locale) for locale in ("en", "zh")}


@pytest.fixture(scope="session")
def accounts() -> dict[str, Account]:
    return {a.id: a for a in load_accounts(SAMPLE_ACCOUNTS)}

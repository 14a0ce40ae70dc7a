"""All cross-checks of a loaded locale, in the order a designer would fix them; and
`load_locale`, the engine's way in: a locale read and fully checked, or refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dialogue.script.checks_compliance import check_disclosures
from dialogue.script.checks_follow_up import check_follow_ups
from dialogue.script.checks_holidays import check_holiday_runway
from dialogue.script.checks_inbound import check_inbound
from dialogue.script.checks_graph import check_identity_first, check_references, check_shape
from dialogue.script.checks_strategy import check_dtmf, check_nlu_data, check_stages
from dialogue.script.checks_text import check_locale_texts
from dialogue.script.checks_voicemail import check_voicemails
from dialogue.script.loader import LocaleScripts, read_locale
from dialogue.problems import Problem, ScriptError


def check_locale(scripts: LocaleScripts, today: date | None = None) -> list[Problem]:
    """Every check; with `today`, also those that depend on the date (a holiday list running out)."""
    problems: list[Problem] = []
    problems += check_stages(scripts)
    problems += check_dtmf(scripts)
    terms = tuple(scripts.lint.debt_terms)
    for _entry, stage, doc in scripts.loaded_stages():
        refs = check_references(stage, doc, scripts.responses)
        problems += refs
        if any(p.code == "unknown-node" for p in refs):
            continue  # graph walks need every reference resolved
        problems += check_shape(stage, doc)
        problems += check_identity_first(stage, doc, scripts.responses, terms)
        problems += check_inbound(stage, doc, scripts.responses, terms)
    problems += check_locale_texts(scripts)
    problems += check_follow_ups(scripts)
    problems += check_voicemails(scripts)
    problems += check_disclosures(scripts)
    if today is not None:
        problems += check_holiday_runway(scripts, today)
    problems += check_nlu_data(scripts)
    return sorted(set(problems))


def load_locale(root: Path) -> LocaleScripts:
    """Load and fully check a locale; raise ScriptError listing every error."""
    scripts, problems = read_locale(root)
    if scripts is not None:
        problems += check_locale(scripts)
    if scripts is None or any(p.severity == "error" for p in problems):
        raise ScriptError(problems)
    return scripts

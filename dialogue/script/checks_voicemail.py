"""Checks of each stage's voicemail: a limited-content message anyone may hear.

A message on an answering machine reaches whoever plays it (a partner, a flatmate, an
employer's phone), so it may carry only a caller name that does not reveal a debt, who to
ask for and a callback number (Regulation F's "limited-content message").  What "reveals the
debt" means is the shared definition in dialogue.script.disclosure: a sensitive variable
({amount}, {lender}, ...) or one of the locale's debt terms in lint.yaml.  Slots are never
filled on a machine, and a message without a number to call back is only a warning.
"""

from __future__ import annotations

from dialogue.script.checks_text import check_text
from dialogue.script.disclosure import _term_pattern
from dialogue.script.loader import LocaleScripts
from dialogue.problems import Problem
from dialogue.script.templates import PLACEHOLDER
from dialogue.variables import SENSITIVE, SLOTS

PATH = ("settings", "voicemail")
CALLBACK_VARIABLES = ("callback_number", "agent_line")


def check_voicemail_text(text: str, doc, scripts: LocaleScripts) -> list[Problem]:
    out: list[Problem] = []
    for match in PLACEHOLDER.finditer(text):
        var = match.group(1)
        if var in SENSITIVE:
            out.append(doc.problem(PATH, f"the voicemail uses {{{var}}}, which reveals the debt to "
                                   "whoever plays the message", "voicemail-reveals",
                                   at=match.start(), span=len(match.group(0))))
        elif var in SLOTS:
            out.append(doc.problem(PATH, f"the voicemail uses the slot {{{var}}}, which is never "
                                   "filled when a machine answers", "voicemail-slot",
                                   at=match.start(), span=len(match.group(0))))
    pattern = _term_pattern(tuple(scripts.lint.debt_terms))
    if pattern is not None:
        spoken = PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), text)  # names are not words
        for match in pattern.finditer(spoken):
            out.append(doc.problem(PATH, f"the voicemail says {match.group(0)!r}, a debt term "
                                   f"({scripts.strategy.lint}): a third party could learn the debt",
                                   "voicemail-reveals", at=match.start(), span=len(match.group(0))))
    out += check_text(doc, PATH, text, scripts.strategy.constants, scripts.lint, slots_ok=None,
                      owner="voicemail")
    used = {m.group(1) for m in PLACEHOLDER.finditer(text)}
    if not used & set(CALLBACK_VARIABLES) and not any(ch.isdigit() for ch in text):
        out.append(doc.problem(PATH, "the voicemail gives no number to call back ({callback_number})",
                               "voicemail-incomplete", severity="warning"))
    return out


def check_voicemails(scripts: LocaleScripts) -> list[Problem]:
    out: list[Problem] = []
    for _entry, stage, doc in scripts.loaded_stages():
        text = stage.settings.voicemail
        if text:
            out += check_voicemail_text(text, doc, scripts)
    return out

"""Checks of a locale's strategy: stage ranges, file names, SMS triggers, keypad map, NLU data."""

from __future__ import annotations

import difflib
from pathlib import Path

from dialogue.intents import INTENT_SET, INTENTS
from dialogue.nlu.rasa_format import NluDataError, load_nlu_file
from dialogue.script.loader import LocaleScripts, display_path
from dialogue.problems import Problem
from dialogue.script.templates import variables_in
from dialogue.variables import SLOTS

SMS_TRIGGERS = ("after_call_no_payment", "five_days_unpaid", "eight_days_unpaid",
                "promise_reminder")  # the last: before a promised date (stage follow_up:)
MIN_EXAMPLES = 10


def check_stages(scripts: LocaleScripts) -> list[Problem]:
    doc = scripts.docs["strategy.yaml"]
    out: list[Problem] = []
    entries = scripts.strategy.stages
    names = [e.name for e in entries]
    for i, entry in enumerate(entries):
        base = ("stages", i)
        if names.count(entry.name) > 1:
            out.append(doc.problem(base + ("name",), f"stage {entry.name!r} is defined twice", "stage-name"))
        rng = entry.days_overdue
        if rng.max is not None and rng.max < rng.min:
            out.append(doc.problem(base + ("days_overdue",), f"max {rng.max} is below min {rng.min}", "stage-range"))
        for trigger, template in entry.sms.items():
            if trigger not in SMS_TRIGGERS:
                close = difflib.get_close_matches(trigger, SMS_TRIGGERS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(SMS_TRIGGERS)}"
                out.append(doc.problem(base + ("sms", trigger), f"unknown SMS trigger {trigger!r}{hint}",
                                       "unknown-sms", key=True))
            if template not in scripts.sms:
                close = difflib.get_close_matches(template, list(scripts.sms), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                out.append(doc.problem(base + ("sms", trigger), f"unknown SMS template {template!r}{hint}",
                                       "unknown-sms"))
            else:
                slots = [v for v in variables_in(scripts.sms[template]) if v in SLOTS]
                if slots:
                    out.append(doc.problem(base + ("sms", trigger), f"SMS {template!r} is sent after the "
                                           f"call, when {{{slots[0]}}} may be empty: use a template "
                                           "without slots", "unguarded-slot"))
    for entry, stage, _doc in scripts.loaded_stages():
        if stage.stage != entry.name:
            out.append(scripts.docs[entry.script].problem(
                ("stage",), f"file says stage {stage.stage!r} but strategy.yaml uses it for {entry.name!r}",
                "stage-name"))
    # Days 1.. must be covered once each; the last stage should be open-ended.
    ordered = sorted(entries, key=lambda e: e.days_overdue.min)
    expected = min([1] + [e.days_overdue.min for e in ordered[:1]])  # 0 = a pre-due reminder stage
    for entry in ordered:
        i = entries.index(entry)
        rng = entry.days_overdue
        if rng.min > expected:
            gap = f"{expected}" if rng.min - 1 == expected else f"{expected}-{rng.min - 1}"
            out.append(doc.problem(("stages", i, "days_overdue"),
                                   f"no stage covers {gap} days overdue", "stage-range"))
        elif rng.min < expected:
            out.append(doc.problem(("stages", i, "days_overdue"),
                                   f"stage {entry.name!r} overlaps the previous stage at {rng.min} days",
                                   "stage-range"))
        if rng.max is None:
            expected = 10**9
        else:
            expected = max(expected, rng.max + 1)
    if ordered and expected != 10**9:
        out.append(doc.problem(("stages",), f"no stage covers {expected} days overdue and more "
                               "(leave max out on the last stage)", "stage-range", key=True))
    return out


def check_dtmf(scripts: LocaleScripts) -> list[Problem]:
    doc = scripts.docs["strategy.yaml"]
    out = []
    for digit, intent in scripts.strategy.dtmf.items():
        if digit not in set("0123456789*#") or len(digit) != 1:
            out.append(doc.problem(("dtmf", digit), f"keypad key must be one of 0-9 * #, not {digit!r}",
                                   "dtmf", key=True))
        if intent not in INTENT_SET:
            close = difflib.get_close_matches(intent, INTENTS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append(doc.problem(("dtmf", digit), f"unknown intent {intent!r}{hint}", "unknown-intent"))
    return out


def check_nlu_data(scripts: LocaleScripts) -> list[Problem]:
    path = scripts.nlu_path
    doc = scripts.docs["strategy.yaml"]
    out: list[Problem] = []
    counts: dict[str, int] = {}
    for source in scripts.nlu_paths:
        try:
            data = load_nlu_file(source)
        except NluDataError as exc:
            if "not found" in exc.detail and source == path:
                return [doc.problem(("nlu", "data"), f"NLU data {path.name}: {exc.detail}", "nlu-data")]
            out.append(Problem(display_path(Path(exc.file)), exc.line, 1, exc.detail, "error", "nlu-data"))
            continue
        for intent, examples in data.by_intent().items():
            if source == path:  # coverage is the designer's file's: extras are derived from it
                counts[intent] = len(examples)
            out += _example_problems(source, intent, examples)
    for intent in INTENTS:
        if intent not in counts:
            out.append(Problem(display_path(path), 1, 1, f"intent {intent!r} has no examples", "error", "nlu-data"))
        elif counts[intent] < MIN_EXAMPLES:
            out.append(Problem(display_path(path), 1, 1, f"intent {intent!r} has only {counts[intent]} examples "
                               f"(at least {MIN_EXAMPLES} recommended)", "warning", "nlu-data"))
    return out


def _example_problems(path: Path, intent: str, examples: list) -> list[Problem]:
    out = []
    if intent not in INTENT_SET:
        close = difflib.get_close_matches(intent, INTENTS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        out.append(Problem(display_path(path), examples[0].intent_line, 1, f"unknown intent {intent!r}{hint}",
                           "error", "unknown-intent"))
    for ex in examples:
        for ent in ex.entities:
            if ent.entity not in ("date", "amount"):
                out.append(Problem(display_path(path), ex.line, 1, f"unknown entity {ent.entity!r} "
                                   "(date or amount)", "warning", "nlu-data"))
    return out

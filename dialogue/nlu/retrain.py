"""Supervisors' corrections as training data, and the honest check of what they changed.

A correction is a turn a supervisor relabelled in the console (exported as Rasa NLU data).
Merged into `nlu_corrections.yml` beside the locale's `nlu.yml` it becomes training data the
next time the model is built.  Two guards: a correction that repeats a locked evaluation turn
is dropped (the locked sets must never be trained on, or they measure memory), and the same
text relabelled again replaces its earlier label (the latest supervisor's word stands).
The gain or loss is measured on the locked sets, before and after, by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dialogue.intents import INTENT_SET
from dialogue.nlu.classifier import normalise
from dialogue.nlu.rasa_format import Example, NluData, dump_nlu, load_nlu_file
from dialogue.paths import REPO_ROOT

CORRECTIONS_FILE = "nlu_corrections.yml"
LOCKED_DIR = REPO_ROOT / "tests" / "data" / "nlu" / "locked"


def locked_set(locale: str) -> NluData:
    """Every locked turn of a locale (tests/data/nlu/locked/<locale>*.yml); empty if none."""
    data = NluData()
    for path in sorted(LOCKED_DIR.glob(f"{locale}*.yml")):
        data.examples += load_nlu_file(path).examples
    return data


@dataclass
class Merge:
    data: NluData          # what the corrections file holds after the merge
    added: int             # new texts
    relabelled: int        # texts already there, now with another intent
    dropped_locked: list[str]
    dropped_unknown: list[str]


def merge_corrections(existing: NluData, incoming: NluData, locked: NluData) -> Merge:
    """The corrections file's new content: earlier corrections, then the incoming ones."""
    forbidden = {normalise(e.text) for e in locked.examples}
    by_text: dict[str, Example] = {normalise(e.text): e for e in existing.examples}
    added = relabelled = 0
    dropped_locked: list[str] = []
    dropped_unknown: list[str] = []
    for ex in incoming.examples:
        key = normalise(ex.text)
        if not key:
            continue
        if ex.intent not in INTENT_SET:
            dropped_unknown.append(ex.text)
            continue
        if key in forbidden:
            dropped_locked.append(ex.text)
            continue
        before = by_text.get(key)
        if before is None:
            added += 1
        elif before.intent != ex.intent:
            relabelled += 1
        by_text[key] = ex
    return Merge(NluData(list(by_text.values())), added, relabelled, dropped_locked, dropped_unknown)


def write_corrections(folder: Path, data: NluData) -> Path:
    """Write the merged corrections atomically beside nlu.yml (a reader never sees half)."""
    path = folder / CORRECTIONS_FILE
    tmp = path.with_suffix(".yml.tmp")
    tmp.write_text("# Supervisors' intent corrections (voicebot nlu train --with-corrections).\n"
                   + dump_nlu(data.examples), encoding="utf-8")
    tmp.replace(path)
    return path

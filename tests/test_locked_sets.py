"""The locked evaluation sets stay what they are: complete, and never part of training.

A locked turn found in a locale's training data (after normalisation) means the set measures
memory again, which is exactly what it exists to avoid."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO
from dialogue.intents import INTENT_SET
from dialogue.nlu.classifier import normalise
from dialogue.nlu.rasa_format import load_nlu_file
from dialogue.paths import locale_dir
from dialogue.script.checks import load_locale

LOCKED = REPO / "tests" / "data" / "nlu" / "locked"
MINIMUM = {"en": 400, "zh": 300}


def locked_examples(locale: str):
    files = sorted(LOCKED.glob(f"{locale}*.yml"))
    assert files, f"no locked set for {locale} in {LOCKED}"
    return [ex for path in files for ex in load_nlu_file(Path(path)).examples]


@pytest.mark.parametrize("locale", sorted(MINIMUM))
def test_locked_set_covers_the_contract(locale):
    examples = locked_examples(locale)
    assert len(examples) >= MINIMUM[locale]
    assert {ex.intent for ex in examples} == INTENT_SET


@pytest.mark.parametrize("locale", sorted(MINIMUM))
def test_no_locked_turn_is_in_training(locale):
    scripts = load_locale(locale_dir(locale))
    trained = {normalise(ex.text) for ex in load_nlu_file(scripts.nlu_path).examples}
    for extra in scripts.nlu_path.parent.glob("nlu_*.yml"):  # generated training data too
        trained |= {normalise(ex.text) for ex in load_nlu_file(extra).examples}
    leaked = sorted({normalise(ex.text) for ex in locked_examples(locale)} & trained)
    # Bare one-word answers ("no", "yes", "bye") are the same turn whoever writes them.
    leaked = [t for t in leaked if len(t.split()) > 1 or (locale == "zh" and len(t) > 2)]
    assert not leaked, f"locked turns found in training data: {leaked[:10]}"

"""Supervisors' corrections become training data, judged on the locked sets first.

`voicebot nlu train --with-corrections` on a copy of the English scripts: the effect is shown
before anything is written, a correction that repeats a locked turn is dropped (the locked sets
are never trained on), the same text relabelled replaces its earlier label, and the engine then
trains on the written `nlu_corrections.yml` too."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

from conftest import REPO
from dialogue.nlu.factory import build_nlu
from dialogue.nlu.rasa_format import Example, NluData, load_nlu_file
from dialogue.nlu.retrain import locked_set, merge_corrections
from dialogue.script.checks import load_locale

VOICEBOT = REPO / ".venv" / "bin" / "voicebot"
# A turn no training file has, with the label a supervisor gave it.
NEW = "my accountant sorts out every bill of mine so ring him"


def _copy(tmp_path: Path) -> Path:
    """The shipped scripts, with the n-gram classifier alone (`nlu.embedding_weight: 0`).

    What is tested here (the merge, the locked-set comparison, the written file, the engine
    training on it) is the same for both classifiers; the sentence-embedding one would encode
    all 7,000 training texts again for the model with the corrections (most of this test's
    time in CI).  The blend is trained and judged on the shipped data in tests/test_nlu.py."""
    root = tmp_path / "scripts"
    shutil.copytree(REPO / "scripts", root)
    strategy = root / "en" / "strategy.yaml"
    text = strategy.read_text(encoding="utf-8")
    assert text.count("\n  embedding_weight: 0.4\n") == 1, "the en strategy's nlu settings moved"
    strategy.write_text(text.replace("\n  embedding_weight: 0.4\n", "\n  embedding_weight: 0\n"),
                        encoding="utf-8")
    return root


def _corrections(tmp_path: Path, lines: list[tuple[str, str]]) -> Path:
    path = tmp_path / "corrections.yml"
    body = ['version: "3.1"', "nlu:"]
    for text, intent in lines:
        body += [f"- intent: {intent}", "  examples: |", f"    - {text}"]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def _train(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VOICEBOT_SCRIPTS": str(root), "COLUMNS": "120"}
    return subprocess.run([str(VOICEBOT), "nlu", "train", "--locale", "en", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_corrections_are_judged_then_written_and_trained_on(tmp_path):
    root = _copy(tmp_path)
    locked_turn = locked_set("en").examples[0]
    source = _corrections(tmp_path, [(NEW, "third_party"), (locked_turn.text, locked_turn.intent)])

    dry = _train(root, "--with-corrections", str(source), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "locked sets" in dry.stdout and "protected recall" in dry.stdout
    assert "1 new, 0 relabelled, 1 dropped (locked turns)" in dry.stdout
    assert not (root / "en" / "nlu_corrections.yml").exists()

    run = _train(root, "--with-corrections", str(source))
    assert run.returncode == 0, run.stderr
    written = load_nlu_file(root / "en" / "nlu_corrections.yml")
    assert [(e.text, e.intent) for e in written.examples] == [(NEW, "third_party")]
    scripts = load_locale(root / "en")
    assert scripts.nlu_paths[-1].name == "nlu_corrections.yml"
    assert build_nlu(scripts).parse(NEW, date(2026, 11, 23)).intent == "third_party"


def test_a_relabelled_text_keeps_the_latest_label():
    earlier = NluData([Example(NEW, "out_of_scope")])
    incoming = NluData([Example(NEW, "third_party"), Example("some words", "no_such_intent")])
    merge = merge_corrections(earlier, incoming, NluData())
    assert [(e.text, e.intent) for e in merge.data.examples] == [(NEW, "third_party")]
    assert (merge.added, merge.relabelled, merge.dropped_unknown) == (0, 1, ["some words"])


def test_a_bad_corrections_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "corrections.yml"
    broken.write_text("nlu:\n- intent: dispute\n  examples: not a block\n", encoding="utf-8")
    run = _train(_copy(tmp_path), "--with-corrections", str(broken))
    assert run.returncode == 2 and "corrections.yml" in run.stderr

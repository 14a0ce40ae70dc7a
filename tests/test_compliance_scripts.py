"""Required disclosures in the scripts: the validator fails a stage lacking one or saying the
debt-collection notice before identity is confirmed (file:line:column, a problem code), and
the engine plays every disclosure non-interruptible, whatever the YAML says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import CALL_DATE
from dialogue.script.models import Node
from voicebot.script_validation import validate_paths

REPO = Path(__file__).resolve().parents[1]
ZH = REPO / "scripts" / "zh"


def zh_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    root = tmp_path / "zh"
    shutil.copytree(ZH, root)
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {file}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return root


def line_of(root: Path, file: str, needle: str) -> tuple[int, str]:
    for number, line in enumerate((root / file).read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number, line
    raise AssertionError(f"{needle!r} not in {file}")


def test_a_cn_stage_without_the_debt_notice_fails(tmp_path: Path):
    root = zh_copy(tmp_path, "mid.yaml", "    disclosure: debt_collection_notice", "")
    problems = [p for p in validate_paths([root]) if p.severity == "error"]
    (problem,) = problems
    line, _ = line_of(root, "mid.yaml", "nodes:")
    assert (problem.code, Path(problem.file).name, problem.line, problem.column) == \
        ("missing-disclosure", "mid.yaml", line, 1)
    assert "debt_collection_notice" in problem.message and "'cn'" in problem.message
    assert str(problem).endswith("[missing-disclosure]")


def test_a_debt_notice_reachable_before_identity_fails_with_the_path(tmp_path: Path):
    root = zh_copy(tmp_path, "early.yaml", "  not_available:\n    response: not_available\n",
                   "  not_available:\n    response: not_available\n    disclosure: debt_collection_notice\n")
    (problem,) = [p for p in validate_paths([root]) if p.code == "debt-notice-before-identity"]
    # remind's (correct) mark comes first in the file; the reported one is not_available's.
    lines = (root / "early.yaml").read_text(encoding="utf-8").splitlines()
    marked = [i + 1 for i, t in enumerate(lines) if t.strip().startswith("disclosure: debt_collection_notice")]
    assert problem.line == marked[-1] and problem.column == lines[marked[-1] - 1].index("debt_collection_notice") + 1
    assert "'not_available'" in problem.message and "greeting -[deny]-> not_available" in problem.message


def test_a_strategy_naming_an_unknown_jurisdiction_fails(tmp_path: Path):
    root = zh_copy(tmp_path, "strategy.yaml", "jurisdiction: cn\n", "jurisdiction: hk\n")
    (problem,) = validate_paths([root])
    assert (problem.code, Path(problem.file).name) == ("unknown-jurisdiction", "strategy.yaml")
    assert "'hk'" in problem.message and "available: cn, us" in problem.message


def test_a_disclosure_node_is_non_interruptible_even_if_the_yaml_says_otherwise():
    assert Node(say="This call is recorded.", disclosure="recording_notice", interruptible=True).interruptible is False
    assert Node(say="Hello.").interruptible is True


@pytest.mark.parametrize("locale, account, answer, notice", [
    ("en", "EN-EARLY-1", "yes this is John", "attempt to collect a debt"),
    ("zh", "ZH-MID-1", "对我就是", "催收"),
])
def test_the_engine_plays_disclosures_non_interruptible(engines, accounts, locale, account, answer, notice):
    session = engines[locale].start_call(accounts[account], today=CALL_DATE)
    opening = session.open()
    greeting = opening.prompts[0]
    assert (greeting["node"], greeting["interruptible"]) == ("greeting", False)
    turn = session.hear(answer)
    (remind,) = [p for p in turn.prompts if p["node"] == "remind"]
    assert notice in remind["text"]
    assert remind["interruptible"] is False   # the YAML marks `disclosure:` only
    assert any(p["interruptible"] for p in turn.prompts if p["node"] != "remind"), "others stay interruptible"

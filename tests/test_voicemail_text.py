"""The voicemail as text: what each shipped stage leaves on a machine, the session's end as
`voicemail`, and the validator refusing a revealing template in Mandarin too (the English
mistakes are cases in test_validator.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import CALL_DATE, REPO
from dialogue.formatting import money
from dialogue.script.disclosure import text_reveals
from voicebot.script_validation import validate_paths

STAGES = [("en", "EN-EARLY-1", "early"), ("en", "EN-MID-1", "mid"), ("en", "EN-LATE-1", "late"),
          ("zh", "ZH-EARLY-1", "early"), ("zh", "ZH-MID-1", "mid"), ("zh", "ZH-LATE-1", "late")]


@pytest.mark.parametrize("locale,account_id,stage", STAGES, ids=[f"{s[0]}-{s[2]}" for s in STAGES])
def test_each_stage_leaves_a_limited_content_message(engines, accounts, locale, account_id, stage):
    account = accounts[account_id]
    session = engines[locale].start_call(account, stage=stage, today=CALL_DATE)
    turn = session.voicemail()
    text = turn.bot_text
    # Who calls, who to ask for, a number; nothing a third party could learn the debt from.
    assert session.scripts.strategy.constants["callback_number"] in text
    assert session.scripts.strategy.constants["company"] in text
    currency = account.currency or session.scripts.strategy.currency
    for secret in (account.lender, money(account.amount, currency, locale),
                   money(account.minimum_payment, currency, locale), str(int(account.amount))):
        assert secret not in text, (secret, text)
    assert text_reveals(text, tuple(session.scripts.lint.debt_terms)) is None, text
    assert turn.prompts[0]["interruptible"] is False  # a machine's noise must not cut it
    assert [a["kind"] for a in turn.actions] == ["hangup"] and turn.end and session.ended
    result = session.result()
    assert result.outcome == "voicemail"
    assert {"outcome:voicemail", "voicemail_left", "identity_unconfirmed"} <= set(result.tags)
    assert result.score == 25 - min(15, max(0, account.days_overdue - 3))


def test_hang_up_leaves_nothing(engines, accounts):
    session = engines["en"].start_call(accounts["EN-MID-1"], today=CALL_DATE)
    turn = session.voicemail(leave_message=False)
    assert turn.prompts == [] and turn.bot_text == "" and turn.end
    assert "voicemail_hung_up" in session.result().tags and session.result().outcome == "voicemail"


def test_the_engine_refuses_a_revealing_template_even_unvalidated(engines, accounts):
    """Defence in depth: a template that slipped past the validator is not spoken."""
    session = engines["en"].start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
    settings = session.policy.stage.settings
    original = settings.voicemail
    object.__setattr__(settings, "voicemail", "This is about your {amount} with {lender}.")
    try:
        turn = session.voicemail()
    finally:
        object.__setattr__(settings, "voicemail", original)
    assert turn.prompts == [] and "voicemail_hung_up" in session.result().tags


def _zh_copy(tmp_path: Path, old: str, new: str) -> Path:
    root = tmp_path / "zh"
    shutil.copytree(REPO / "scripts" / "zh", root)
    path = root / "mid.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    return root


@pytest.mark.parametrize("old,new,needle,code", [
    ("请{first_name}方便时回电", "请{first_name}尽快处理欠款并回电", "欠款", "voicemail-reveals"),
    ("这里是{company}的", "这里是{lender}的", "{lender}", "voicemail-reveals"),
])
def test_zh_revealing_voicemail_is_an_error_where_it_was_written(tmp_path, old, new, needle, code):
    root = _zh_copy(tmp_path, old, new)
    problems = [p for p in validate_paths([root]) if p.code == code]
    assert len(problems) == 1, problems
    problem = problems[0]
    lines = (root / "mid.yaml").read_text(encoding="utf-8").splitlines()
    line = lines[problem.line - 1]
    assert line.lstrip().startswith("voicemail:") and problem.severity == "error"
    assert line[problem.column - 1:].startswith(needle), (problem, line)
    assert str(problem).startswith(f"{problem.file}:{problem.line}:{problem.column}: error:")


def test_shipped_voicemails_pass_the_validator():
    problems = validate_paths([REPO / "scripts" / "en", REPO / "scripts" / "zh"])
    assert not [p for p in problems if p.code.startswith("voicemail")], problems

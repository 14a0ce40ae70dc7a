"""`voicebot chat` as script designers and other programs use it: piped lines in, JSON out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO, SAMPLE_ACCOUNTS

VOICEBOT = Path(sys.executable).with_name("voicebot")


def _chat(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([str(VOICEBOT), "chat", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def test_piped_lines_give_one_json_line_per_turn_then_the_result():
    run = _chat("--account", f"{SAMPLE_ACCOUNTS}:EN-EARLY-1", "--today", "2026-11-23",
                stdin="yes this is John\nhow can I pay\nI'll pay on friday\nyes\n")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    turns, result = lines[:-1], lines[-1]["result"]
    assert [t["kind"] for t in turns] == ["opening", "speech", "speech", "speech", "speech"]
    assert [t["nlu"]["intent"] for t in turns[1:]] == ["confirm_identity", "ask_payment_method",
                                                      "promise_to_pay", "affirm"]
    assert turns[-2]["nlu"]["entities"][0]["value"] == "2026-11-27"
    assert result["outcome"] == "promise_to_pay" and result["stage"] == "early"
    assert result["details"]["promise_date"] == "2026-11-27"


def test_csv_accounts_and_chinese_script():
    run = _chat("--locale", "zh", "--account", f"{SAMPLE_ACCOUNTS.with_suffix('.csv')}:ZH-MID-1",
                "--json", "--debtor", "对我就是|别再给我打电话了")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])["result"]
    assert result["outcome"] == "opted_out"


def test_unknown_account_is_a_clear_error():
    run = _chat("--account", f"{SAMPLE_ACCOUNTS}:NOPE", "--debtor", "hi")
    assert run.returncode == 2
    assert "unknown account 'NOPE'" in run.stderr and "EN-EARLY-1" in run.stderr


def test_broken_account_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "accounts.json"
    bad.write_text('[{"id": "X1", "name": "A B", "lender": "L", "amount": -5}]')
    run = _chat("--account", str(bad), "--debtor", "hi")
    assert run.returncode == 2
    assert "account X1" in run.stderr and "amount" in run.stderr

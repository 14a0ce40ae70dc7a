"""`voicebot compliance check`: the rules engine's answer per account as a table (and JSON),
at a chosen instant, with an attempt history read from a file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from voicebot.cli import app

REPO = Path(__file__).resolve().parents[1]
ACCOUNTS = REPO / "scripts" / "accounts" / "sample_accounts.csv"
runner = CliRunner()


def check(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["compliance", "check", str(ACCOUNTS), *args], env={"COLUMNS": "220"})
    return result.exit_code, result.output


def test_table_names_the_rule_and_the_next_allowed_local_time():
    # 03:30 UTC: 19:30 in Los Angeles (inside), 21:30 in Chicago and 22:30 in New York (outside),
    # 11:30 in Shanghai (inside).
    code, out = check("--at", "2026-11-24T03:30:00Z")
    assert code == 0, out
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in out.splitlines() if line.startswith("│ ") and "-" in line.split("│")[1]}
    assert rows["EN-EARLY-1"][2:4] == ["yes", ""]
    assert rows["EN-MID-1"][2:4] == ["no", "calling_window"]
    assert rows["EN-MID-1"][5] == "Tue 24 Nov 08:00 CST"
    assert rows["EN-LATE-1"][5] == "Tue 24 Nov 08:00 EST"
    assert rows["ZH-EARLY-1"][:3] == ["cn", "Tue 11:30 CST", "yes"]
    assert "4 of 6 accounts may be called now" in out


def test_history_file_and_opt_outs_change_the_answer(tmp_path: Path):
    history = tmp_path / "attempts.csv"
    lines = ["account,at,connected,conversation"]
    lines += [f"ZH-MID-1,2026-11-24T0{h}:00:00+08:00,true,false" for h in (8, 9)] + \
             ["ZH-MID-1,2026-11-24T10:00:00+08:00,yes,no",
              "EN-EARLY-1,2026-11-20T10:00:00-08:00,true,true"]
    history.write_text("\n".join(lines) + "\n")
    code, out = check("--at", "2026-11-24T19:00:00Z", "--history", str(history), "--opted-out", "ZH-LATE-1", "--json")
    assert code == 0, out
    answers = {row["account"]: row for row in map(json.loads, out.splitlines())}
    assert answers["ZH-MID-1"]["rule"] == "calling_window"   # 03:00 in Shanghai
    code, out = check("--at", "2026-11-24T07:00:00Z", "--history", str(history), "--opted-out", "ZH-LATE-1", "--json")
    answers = {row["account"]: row for row in map(json.loads, out.splitlines())}
    assert (answers["ZH-MID-1"]["rule"], answers["ZH-MID-1"]["next_allowed_at"]) == \
        ("connected_per_day", "2026-11-25T00:00:00+00:00")
    assert answers["ZH-EARLY-1"]["allowed"] is True
    assert (answers["ZH-LATE-1"]["rule"], answers["ZH-LATE-1"]["next_allowed_at"]) == ("opt_out", None)
    assert (answers["EN-EARLY-1"]["rule"], answers["EN-EARLY-1"]["next_allowed_at"]) == \
        ("calling_window", "2026-11-27T18:00:00+00:00")   # 23:00 in LA now; free when the quiet week ends


def test_bad_input_fails_where_it_entered(tmp_path: Path):
    code, out = check("--at", "tomorrow")
    assert code == 2 and "'tomorrow' is not an ISO 8601 time" in " ".join(out.split())
    bad = tmp_path / "h.jsonl"
    bad.write_text('{"account": "EN-EARLY-1", "at": "2026-11-20T10:00:00Z"}\n{"account": "EN-EARLY-1"}\n')
    code, out = check("--history", str(bad))
    assert code == 2 and "h.jsonl:2" in "".join(out.split()), out


def test_profiles_command_lists_both_profiles():
    result = runner.invoke(app, ["compliance", "profiles"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert "FDCPA / Regulation F" in result.output and "hang_up" in result.output and "08:00-22:00" in result.output

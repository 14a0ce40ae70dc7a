"""The calls CSV never hands a spreadsheet a formula (issue 19, low: CSV formula injection)."""

from __future__ import annotations

import pytest

from voicebot.console.routes_calls import _cell


@pytest.mark.parametrize("value", ["=1+HYPERLINK(\"http://x\",\"y\")", "-2+3+cmd|' /C calc'!A0",
                                   "+1-1", "@SUM(A1)", "=cmd", "\t=1", "\r=1", "-", "+"])
def test_formula_like_text_is_quoted(value):
    assert _cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.50", "+44", "125", "Maria Lopez", "", "a=b"])
def test_numbers_and_plain_text_pass(value):
    assert _cell(value) == value


def test_non_text_passes():
    assert _cell(12) == 12 and _cell(None) is None

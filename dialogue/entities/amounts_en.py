"""English money amounts: "$1,200.50", "200 dollars", "1.5k", "fifty bucks".

A number is an amount when it carries a money cue (``$``, "dollars",
"bucks", "usd", "k"/"grand"), or, without a cue, when it is at least 10 and
not followed by a non-money unit ("3 kids", "45 years", "5 pm", "50%").
Small bare numbers are too often counts ("one moment", "two kids") to be
guessed as money. Date phrases are removed before this runs (see
``extract``), so "the 15th" and "in 3 days" never reach here.
"""

from __future__ import annotations

import re

from .entity import Entity
from .normalise import lower_same_length
from .numbers_en import NUMBER_WORDS, parse_number_words

_MIN_BARE_AMOUNT = 10.0
_MAX_BARE_DIGITS = 7  # longer unseparated digit runs are phone/account numbers
_MULTIPLIERS = {"k": 1_000.0, "hundred": 100.0, "thousand": 1_000.0, "grand": 1_000.0,
                "million": 1_000_000.0}

_NUMERIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_AMOUNT = re.compile(
    rf"""
    (?<![\w.,/:$])
    (?:(?P<cur>\$|\bus\$|\busd\b)\s*)?
    (?:
        (?P<num>{_NUMERIC})(?![\d:/]|[.,]\d)
        (?P<mult>k\b|\s*(?:hundred|thousand|grand|million)\b)?
      | (?P<words>{NUMBER_WORDS})
    )
    (?![\w'])
    (?P<unit>\s*(?:dollars?|bucks?|usd)\b)?
    """,
    re.VERBOSE,
)
# Units after a bare number that show it is not money.
_NOT_MONEY_AFTER = re.compile(
    r"\s*(?:%|percent\b|per\s*cent\b|[ap]\.?m\b\.?|o'?clock\b|days?\b|weeks?\b|months?\b"
    r"|years?\b|hours?\b|hrs?\b|minutes?\b|mins?\b|seconds?\b|secs?\b|times?\b|kids?\b"
    r"|children\b|people\b|:\d)"
)
# Words before a bare number that show it is a time, an index or an identifier.
_NOT_MONEY_BEFORE = re.compile(
    r"(?:\b(?:at|number|no\.?|ext\.?|extension|account|room|apartment|apt\.?|aged?)|#)\s*$"
)
_LOOKBEHIND_CHARS = 12


def _value(m: re.Match[str]) -> float | None:
    """Numeric value of an amount match, before the bare-number checks."""
    if m.group("words"):
        words_value = parse_number_words(m.group("words"))
        return None if words_value is None else float(words_value)
    value = float(m.group("num").replace(",", ""))
    mult = (m.group("mult") or "").strip()
    return round(value * _MULTIPLIERS[mult], 2) if mult else value


def _is_bare_money(m: re.Match[str], value: float, text: str, endpos: int) -> bool:
    """Whether a number with no money cue should still count as an amount."""
    if value < _MIN_BARE_AMOUNT or _NOT_MONEY_AFTER.match(text, m.end(), endpos):
        return False
    num = m.group("num")
    if num and num.isdigit() and len(num) >= _MAX_BARE_DIGITS:
        return False
    return _NOT_MONEY_BEFORE.search(text, max(0, m.start() - _LOOKBEHIND_CHARS), m.start()) is None


def find_amounts(text: str, pos: int = 0, endpos: int | None = None) -> list[Entity]:
    """Amounts in ``text[pos:endpos]``, with offsets into the whole ``text``.

    Matching runs on a lower-cased copy; spans slice the original ``text``.
    """
    end = len(text) if endpos is None else endpos
    lowered = lower_same_length(text)
    found: list[Entity] = []
    for m in _AMOUNT.finditer(lowered, pos, end):
        value = _value(m)
        if value is None:
            continue
        has_cue = bool(m.group("cur") or m.group("unit") or m.group("mult"))
        if has_cue or "grand" in (m.group("words") or "") or _is_bare_money(m, value, lowered, end):
            start, stop = m.span()
            found.append(Entity("amount", value, text[start:stop], start, stop))
    return found

"""English number words: regex fragments and a tiny parser.

The regexes only accept well-formed numbers ("two hundred and fifty",
"twenty-five", "a thousand"), so the parser can use the simple
accumulate-and-multiply algorithm without validating order itself; a
disfluency like "two three hundred" is therefore split rather than summed.
"""

from __future__ import annotations

import re

UNITS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9,
}
TEENS: dict[str, int] = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS: dict[str, int] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
SCALES: dict[str, int] = {"hundred": 100, "thousand": 1000, "grand": 1000, "million": 1_000_000}
_SMALL: dict[str, int] = {**UNITS, **TEENS, **TENS}

ORDINALS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11,
    "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}


def _alt(words: dict[str, int] | list[str]) -> str:
    """Regex alternation, longest words first so "seventeen" beats "seven"."""
    return "|".join(sorted(words, key=len, reverse=True))


_UNIT = rf"(?:{_alt(UNITS)})"
_TEEN = rf"(?:{_alt(TEENS)})"
_TENS = rf"(?:{_alt(TENS)})"
_SEP = r"(?:\s+|-)"

#: 1..99 in words ("seven", "fifteen", "forty-two").
UNDER_100 = rf"(?:{_TENS}(?:{_SEP}{_UNIT})?|{_TEEN}|{_UNIT})"
_HUNDREDS = (
    rf"(?:(?:(?:{_UNIT}|a)\s+)?hundred|(?:{_TENS}(?:{_SEP}{_UNIT})?|{_TEEN})\s+hundred)"
    rf"(?:\s+(?:and\s+)?{UNDER_100})?"
)
#: 1..999 in words, including "a hundred and five" and "twenty five hundred".
UNDER_1000 = rf"(?:{_HUNDREDS}|{UNDER_100})"
_THOUSANDS = (
    rf"(?:(?:{UNDER_1000}|a)\s+)?(?:thousand|grand)(?:,?\s+(?:and\s+)?{UNDER_1000})?"
)
#: Any word a number in words can start with. Used as a cheap lookahead guard:
#: re tries alternations one by one, so rejecting "the"/"this" up front makes
#: the structured patterns below about 3x faster on ordinary sentences.
NUMBER_START_WORD = rf"(?:{_alt([*UNITS, *TEENS, *TENS, 'hundred', 'thousand', 'grand', 'million', 'a'])})\b"
#: A whole English number in words, up to the millions, with word boundaries.
NUMBER_WORDS = (
    rf"\b(?={NUMBER_START_WORD})(?:(?:(?:{UNDER_1000}|a)\s+)?million(?:,?\s+(?:and\s+)?(?:{_THOUSANDS}|{UNDER_1000}))?"
    rf"|{_THOUSANDS}|{UNDER_1000})\b"
)

_TOKEN = re.compile(r"[a-z]+")
_ORDINAL_WORDS = rf"(?:(?:twenty|thirty){_SEP}(?:{_alt(list(ORDINALS)[:9])})|{_alt(ORDINALS)})"
#: Ordinal day words "first" .. "thirty-first".
ORDINAL_WORDS = rf"\b{_ORDINAL_WORDS}\b"


def parse_number_words(text: str) -> int | None:
    """Value of a phrase matched by :data:`NUMBER_WORDS` (``None`` if empty).

    "a" counts as one ("a hundred"), "and" is ignored, a scale with nothing
    before it counts once ("hundred bucks" = 100).
    """
    total = current = 0
    seen = False
    for token in _TOKEN.findall(text.lower()):
        if token == "and":
            continue
        seen = True
        if token in _SMALL:
            current += _SMALL[token]
        elif token == "a":
            current += 1
        elif token == "hundred":
            current = (current or 1) * 100
        elif token in SCALES:
            total += (current or 1) * SCALES[token]
            current = 0
        else:
            return None
    return total + current if seen else None


def parse_ordinal_words(text: str) -> int | None:
    """Value of "fifteenth", "twenty-first", "thirtieth" ... (``None`` otherwise)."""
    tokens = _TOKEN.findall(text.lower())
    if len(tokens) == 1:
        return ORDINALS.get(tokens[0])
    if len(tokens) == 2 and tokens[0] in ("twenty", "thirty") and tokens[1] in ORDINALS:
        return TENS[tokens[0]] + ORDINALS[tokens[1]]
    return None

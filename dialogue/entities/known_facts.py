"""What a caller says when asked for something only the debtor knows: a date of birth or a
postal code, compared with the account's.

Why a parser of its own: the promise-date finders look forward from today ("Friday" is the
coming one, a date without a year the next such day), while a birth date is in the past and
is said every which way: "March fifth, nineteen eighty-five", "the 5th of March 85",
"03/05/1985", "oh three oh five eighty-five", "1985年3月5日", "八五年三月五号". A recogniser
writes numbers as digits or words, so both are read. The answer is only compared with the
account's own value, never repeated back, and the comparison is exact (day, month and year;
all five digits), since a near miss is exactly what a stranger's guess looks like.
"""

from __future__ import annotations

import re
from datetime import date

from dialogue.entities.numbers_en import ORDINALS, TEENS, TENS, UNITS
from dialogue.entities.numbers_zh import parse_zh_int

FACTS = ("date_of_birth", "postal_code")

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12,
    "dec": 12,
}
_DIGIT_WORDS = {"zero": 0, "oh": 0, "o": 0, **UNITS}
_ZH_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_TOKEN = re.compile(r"\d+(?:st|nd|rd|th)?|[a-z]+")
_NUMERIC_DATE = re.compile(r"\b(\d{1,4})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2,4})\b")
_ZH_DATE = re.compile(r"([0-9零〇○一二两三四五六七八九幺]{2,4})\s*年\s*([0-9一二三四五六七八九十]{1,3})\s*月"
                      r"\s*([0-9一二三四五六七八九十]{1,3})\s*[日号號]?")


def _year(value: int) -> int:
    """A two-digit year is the last century's or this one's, whichever is not in the future."""
    if value >= 100:
        return value
    return 2000 + value if 2000 + value <= date.today().year else 1900 + value


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(_year(year), month, day)
    except ValueError:
        return None


def _numbers(tokens: list[str]) -> list[tuple[str, int]]:
    """Tokens as (kind, value): month, ordinal, number (a run of number words merged the way
    years are said: "nineteen eighty five" -> 1985, "two thousand three" -> 2003)."""
    out: list[tuple[str, int]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in _MONTHS and not (tok == "may" and i + 1 < len(tokens) and tokens[i + 1] == "be"):
            out.append(("month", _MONTHS[tok]))
        elif tok[0].isdigit():
            digits = re.match(r"\d+", tok).group()  # type: ignore[union-attr]
            out.append(("ordinal" if not tok.isdigit() else "number", int(digits)))
            if tok.isdigit() and len(tok) <= 2 and tok.startswith("0"):
                out[-1] = ("digit", int(digits))
        elif tok in ORDINALS:
            out.append(("ordinal", ORDINALS[tok]))
        elif tok in TENS and i + 1 < len(tokens) and tokens[i + 1] in ORDINALS and ORDINALS[tokens[i + 1]] < 10:
            out.append(("ordinal", TENS[tok] + ORDINALS[tokens[i + 1]]))
            i += 1
        elif tok in TENS or tok in TEENS or tok in UNITS:
            value = TENS.get(tok) or TEENS.get(tok) or UNITS[tok]
            if tok in TENS and i + 1 < len(tokens) and tokens[i + 1] in UNITS:
                value += UNITS[tokens[i + 1]]
                i += 1
            if i + 1 < len(tokens) and tokens[i + 1] == "thousand":
                value, i = value * 1000, i + 1
                if i + 1 < len(tokens) and tokens[i + 1] == "and":
                    i += 1
            elif i + 1 < len(tokens) and tokens[i + 1] == "hundred":
                value, i = value * 100, i + 1
            out.append(("number", value))
        elif tok in ("zero", "oh", "o"):
            out.append(("digit", 0))
        i += 1
    return _join_years(out)


def _join_years(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """"nineteen" + "eighty five" and "two thousand" + "three" are one year."""
    out: list[tuple[str, int]] = []
    for kind, value in items:
        if out and kind == "number" and value < 100 and out[-1][0] in ("number", "year"):
            prev = out[-1][1]
            if prev in (19, 20) or prev in (1900, 2000):
                out[-1] = ("year", (prev * 100 if prev < 100 else prev) + value)
                continue
        if kind == "number" and 1900 <= value <= 2100:
            kind = "year"
        out.append((kind, value))
    return out


def _spoken_digit_string(text: str) -> str:
    """Every digit said, in order ("oh six one oh three", "0 6 1 0 3", "06103", "幺零")."""
    out = []
    tokens = re.findall(r"\d+|[a-z]+|[零〇○一幺二两三四五六七八九]", text.lower())
    for i, tok in enumerate(tokens):
        if tok.isdigit():
            out.append(tok)
        elif tok in _DIGIT_WORDS and not (i and tokens[i - 1] in TENS):
            out.append(str(_DIGIT_WORDS[tok]))
        elif tok in TEENS:
            out.append(str(TEENS[tok]))
        elif tok in TENS:  # "eighty five" -> 85, "eighty" -> 80
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            out.append(str(TENS[tok] + UNITS.get(nxt, 0)))
        elif tok in _ZH_DIGITS:
            out.append(str(_ZH_DIGITS[tok]))
    return "".join(out)


def _zh_part(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if len(text) >= 2 and all(c in _ZH_DIGITS for c in text):
        return int("".join(str(_ZH_DIGITS[c]) for c in text))  # 一九八五: digit by digit
    return parse_zh_int(text)


def heard_birth_dates(text: str, locale: str = "en") -> list[date]:
    """Every reading of `text` as a calendar date with a year; empty when it holds none."""
    found: list[date] = []
    for m in _ZH_DATE.finditer(text):
        y, mo, d = (_zh_part(g) for g in m.groups())
        if None not in (y, mo, d) and (when := _valid(y, mo, d)):  # type: ignore[arg-type]
            found.append(when)
    for m in _NUMERIC_DATE.finditer(text):
        a, b, c = (int(g) for g in m.groups())
        order = (a, b, c) if len(m.group(1)) == 4 else ((c, b, a) if locale == "zh" else (c, a, b))
        if (when := _valid(*order)):
            found.append(when)
    items = _numbers(_TOKEN.findall(text.lower()))
    months = [v for k, v in items if k == "month"]
    years = [v for k, v in items if k == "year"] or [v for k, v in items if k == "number" and v > 31]
    days = [v for k, v in items if k == "ordinal" and 1 <= v <= 31] or \
           [v for k, v in items if k in ("number", "digit") and 1 <= v <= 31]
    if months and days and years and (when := _valid(years[-1], months[0], days[0])):
        found.append(when)
    digits = _spoken_digit_string(text)
    if not months and len(digits) in (6, 8):  # "oh three oh five eighty five": MMDDYY(YY)
        mm, dd, yy = int(digits[:2]), int(digits[2:4]), int(digits[4:])
        if (when := _valid(yy, mm, dd) if locale != "zh" else _valid(int(digits[:-4] or 0), mm, dd)):
            found.append(when)
    return found


def heard_postal_code(text: str, length: int = 5) -> str | None:
    """The first run of `length` digits said, or None."""
    digits = _spoken_digit_string(text)
    return digits[:length] if len(digits) >= length else None


def answer_matches(fact: str, text: str, expected: object, locale: str = "en") -> bool | None:
    """True when `text` gives the expected value, False when it gives another, None when it
    gives none at all (a question, "hold on", a request for a person: not an answer)."""
    if expected in (None, ""):
        return False
    if fact == "date_of_birth":
        want = expected if isinstance(expected, date) else date.fromisoformat(str(expected))
        heard = set(heard_birth_dates(text, locale))
        if not heard:
            return None
        return want in heard and len(heard) <= 2  # a list of dates is a guess, not an answer
    if fact == "postal_code":
        want = re.sub(r"\D", "", str(expected))
        heard = _spoken_digit_string(text)
        if len(heard) < min(5, len(want)):
            return None
        return heard[:len(want)] == want and len(heard) <= len(want) + 4  # ZIP+4 at most
    raise ValueError(f"unknown fact {fact!r}; known: {', '.join(FACTS)}")

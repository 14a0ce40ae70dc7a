"""English date expressions, normalised against the call's date.

Each phrase kind is one regex paired with a resolver. All candidates are
returned; ``extract`` keeps the longest of overlapping ones, which is how
"the day after tomorrow" beats "tomorrow" and "end of next month" beats
"next month" without ordering tricks. Resolution rules are in
:mod:`calendar_math`; in short (weeks start on Monday):

* "friday" / "this friday" / "on friday": next occurrence, *today included*
  (said on a Friday it means today);
* "next friday" / "friday next week": the Friday of the next calendar week,
  i.e. +7 days when said on a Friday, and 11 days ahead when said on a Monday;
* "next week": Monday of next week; "this weekend": the coming Saturday;
* "the 15th" / "dec 3" / "3 december" / "12/3" (US month/day): next
  occurrence, today included, rolling into next month or year;
* "in 3 days" / "two weeks from now" / "give me a week": +N; a bare duration
  ("for two weeks", "two days ago") is not a date, except the vague "a couple
  of days" (+2) and "a few days" (+3), which only ever mean "soon".

"payday" and "when I get paid" are deliberately *not* dates: their date is
unknown to us and belongs to the dialogue, not to extraction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from . import calendar_math as cal
from .entity import Entity
from .normalise import lower_same_length
from .numbers_en import (
    NUMBER_START_WORD,
    ORDINAL_WORDS,
    UNDER_100,
    parse_number_words,
    parse_ordinal_words,
)

_WEEKDAYS: dict[str, int] = {
    "monday": 0, "tuesday": 1, "tues": 1, "wednesday": 2, "thursday": 3,
    "thurs": 3, "friday": 4, "saturday": 5, "sunday": 6,
}
_MONTHS: dict[str, int] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3,
    "april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7,
    "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9, "october": 10,
    "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}
_WD = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
# "may be" is the verb; an ASR "may be" must not become the 5th month.
_MON = rf"(?:{'|'.join(sorted(_MONTHS, key=len, reverse=True))})\b(?!\s+be\b)\.?"
_DAY_NUM = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\b"
_DAY_ORDINAL = r"(?P<d>\d{1,2})(?:st|nd|rd|th)\b"
_DAY = rf"(?:{_DAY_NUM}|(?P<dw>{ORDINAL_WORDS}))"
_YEAR = r"(?:,?\s+(?P<y>(?:19|20)\d{2})\b(?!\s*(?:dollars?|bucks|usd)))?"
_OF_MONTH = r"(?:\s+of\s+(?P<which>next|this|the)\s+month\b)?"
_VAGUE_COUNTS = {"couple": 2, "few": 3}

Resolver = Callable[[re.Match[str], date], date | None]


def _relative_day(m: re.Match[str], today: date) -> date:
    word = m.group(0)
    if word.endswith("after tomorrow"):
        return cal.add_days(today, 2)
    return cal.add_days(today, 1 if word.startswith("tom") or word == "tmrw" else 0)


def _weekday(m: re.Match[str], today: date) -> date:
    weekday = _WEEKDAYS[m.group("wd")]
    if (m.group("mod") or "") == "next" or m.group("nextweek"):
        return cal.weekday_of_next_week(today, weekday)
    return cal.upcoming_weekday(today, weekday)


def _next_week(m: re.Match[str], today: date) -> date:
    return cal.next_week_monday(today)


def _weekend(m: re.Match[str], today: date) -> date:
    if (m.group("mod") or "") == "next":
        return cal.weekday_of_next_week(today, 5)
    return cal.coming_saturday(today)


def _end_of_week(m: re.Match[str], today: date) -> date:
    if m.group("next"):
        return cal.weekday_of_next_week(today, 4)
    return cal.upcoming_weekday(today, 4)


def _end_of_month(m: re.Match[str], today: date) -> date:
    return cal.end_of_month(today, 1 if m.group("next") else 0)


def _next_month(m: re.Match[str], today: date) -> date:
    return cal.first_of_next_month(today)


def _duration(m: re.Match[str], today: date) -> date | None:
    vague = m.group("vague")
    if vague is None and not (m.group("pre") or m.group("post")):
        return None  # "for two weeks", "two days ago": not a future date
    count_text = m.group("count")
    if vague is not None:
        count: int | None = _VAGUE_COUNTS["couple" if "couple" in count_text else "few"]
    elif count_text in ("a", "an"):
        count = 1
    elif count_text.isdigit():
        count = int(count_text)
    else:
        count = parse_number_words(count_text)
    if not count:
        return None
    unit = m.group("unit")
    if unit.startswith("month"):
        return cal.add_months(today, count)
    return cal.add_days(today, count * (7 if unit.startswith("week") else 1))


def _day_number(m: re.Match[str]) -> int | None:
    """Day from a digit group ``d`` or an ordinal-word group ``dw``."""
    groups = m.groupdict()
    if groups.get("d"):
        return int(groups["d"])
    if groups.get("dw"):
        return parse_ordinal_words(groups["dw"])
    return None


def _day_of_month(m: re.Match[str], today: date) -> date | None:
    day = _day_number(m)
    if day is None:
        return None
    which = m.group("which") or ""
    if which == "next":
        return cal.day_in_month_offset(today, 1, day)
    if which:
        return cal.day_in_month_offset(today, 0, day)
    return cal.next_day_of_month(today, day)


def _month_day(m: re.Match[str], today: date) -> date | None:
    day = _day_number(m)
    month_word = m.group("mon").rstrip(".")
    year = int(m.group("y")) if m.group("y") else None
    if day is None:
        return None
    return cal.next_month_day(today, _MONTHS[month_word], day, year)


def _slash_date(m: re.Match[str], today: date) -> date | None:
    year = m.group("y")
    full_year = None if year is None else int(year) + (2000 if len(year) == 2 else 0)
    return cal.next_month_day(today, int(m.group("m")), int(m.group("d")), full_year)


def _c(pattern: str) -> re.Pattern[str]:
    """Compile a lower-case pattern; input is lower-cased by :func:`find_dates`."""
    return re.compile(pattern)


_COUNT = (
    rf"(?P<count>(?P<vague>(?:a\s+)?couple(?:\s+of)?|(?:a\s+)?few)|\d{{1,3}}|{UNDER_100}|an?)"
)
_PATTERNS: tuple[tuple[re.Pattern[str], Resolver], ...] = (
    (_c(r"\b(?:(?:the\s+)?day\s+after\s+tomorrow|tomorrow|tmrw|today|tonight)\b"), _relative_day),
    (_c(rf"\b(?:(?P<mod>next|this\s+coming|this|coming)\s+)?(?P<wd>{_WD})\b"
        r"(?P<nextweek>\s+next\s+week\b)?"), _weekday),
    (_c(r"\bnext\s+week\b"), _next_week),
    (_c(r"\b(?:(?P<mod>this|the|next|coming)\s+)?weekend\b"), _weekend),
    (_c(r"\b(?:the\s+)?end\s+of\s+(?:(?P<next>next)|the|this)\s+week\b"), _end_of_week),
    (_c(r"\b(?:(?:the\s+)?end\s+of\s+(?:(?P<next>next)\s+|the\s+|this\s+)?month|month[-\s]end)\b"),
     _end_of_month),
    (_c(r"\b(?:(?:the\s+)?(?:beginning|start)\s+of\s+|early\s+)?next\s+month\b"), _next_month),
    (_c(rf"\b(?=in\b|within\b|after\b|give\b|an\b|couple\b|few\b|\d|{NUMBER_START_WORD})"
        rf"(?:(?P<pre>in|within|after|give\s+me)\s+(?:(?:about|around|another|maybe)\s+)?)?{_COUNT}"
        r"\s+(?:more\s+)?(?P<unit>days?|weeks?|months?)\b"
        r"(?P<post>\s+(?:from\s+(?:now|today)|later|time))?"), _duration),
    # "15th", "the 15th (of next month)", "on the fifteenth", "by the 15".
    (_c(rf"\b(?:the\s+)?{_DAY_ORDINAL}{_OF_MONTH}"), _day_of_month),
    (_c(rf"\bthe(?:(?<=\bon\sthe)|(?<=\bby\sthe)|(?<=\buntil\sthe)|(?<=\btill\sthe)"
        rf"|(?<=\bbefore\sthe))\s+{_DAY}(?![\d:/.,]\d){_OF_MONTH}"), _day_of_month),
    (_c(rf"\bthe\s+(?P<dw>{ORDINAL_WORDS})\s+of\s+(?P<which>next|this|the)\s+month\b"),
     _day_of_month),
    (_c(rf"\b(?P<mon>{_MON})\s+(?:the\s+)?{_DAY}{_YEAR}"), _month_day),
    (_c(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?(?P<mon>{_MON}){_YEAR}"), _month_day),
    (_c(r"(?<![\d/.,])(?P<m>\d{1,2})/(?P<d>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?(?![\d/])"), _slash_date),
)


def find_dates(text: str, today: date) -> list[Entity]:
    """All date candidates in ``text`` (possibly overlapping), resolved."""
    lowered = lower_same_length(text)
    found: list[Entity] = []
    for pattern, resolve in _PATTERNS:
        for m in pattern.finditer(lowered):
            when = resolve(m, today)
            if when is not None:
                start, end = m.span()
                found.append(Entity("date", when.isoformat(), text[start:end], start, end))
    return found

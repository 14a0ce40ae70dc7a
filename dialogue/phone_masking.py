"""Phone numbers as a record shows them: every digit but the last four hidden.

A debtor's phone number is personal data.  The value a carrier needs to send an SMS or place a
call stays whole in memory, but what is only a record of it (the call's JSONL and summary, the
carrier action log, audit reasons, log lines, the handoff packet) keeps the masked form: the
last digits are enough to tell two numbers apart, not to dial one.  Pure string work, so the
dialogue's rule messages can use it as well as the telephony side.
"""

from __future__ import annotations

import re

#: A run that reads as a phone number: optional + or (, digits with spaces, dots, dashes or
#: brackets between them.  Not inside a word or an id ("ACC-12345678", "4f0c123456789").
_NUMBER_RUN = re.compile(r"(?<![\w+\-/.:])\+?\(?\d[\d\s().-]{6,}\d(?![\w:])")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MIN_PHONE_DIGITS = 8  # shorter runs are amounts, codes or years, not phone numbers


def mask_phone(phone: str | None) -> str | None:
    """Hide every digit but the last four (fewer for short numbers), keeping + and separators:
    "+12065550101" -> "+*******0101"."""
    if not phone:
        return None
    digits = sum(ch.isdigit() for ch in phone)
    keep = 4 if digits >= 8 else digits // 3
    out, seen = [], 0
    for ch in phone:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > digits - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_numbers_in(text: str) -> str:
    """`text` with every phone-like run of 8 or more digits masked, e.g. a carrier's error
    "The 'To' number +12065550101 is not valid" or an old audit reason; dates stay as they are."""
    def _mask(match: re.Match[str]) -> str:
        run = match.group(0)
        if sum(ch.isdigit() for ch in run) < MIN_PHONE_DIGITS or _ISO_DATE.match(run):
            return run
        return mask_phone(run) or run
    return _NUMBER_RUN.sub(_mask, text)

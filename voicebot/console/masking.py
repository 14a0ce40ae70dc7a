"""Personal values hidden from a role that must not see them, in fields and in free text.

A transcript is where personal data hides: the bot says the debtor's name and balance, and
the debtor says anything (a phone number, an e-mail, a card number, a date of birth).  So
the console does not only mask the name and phone columns: every text a page, JSON answer or
export shows passes through a `Masker` made for the viewer's role (`auth.SEES`) and the call
(`Known`: the account's values as stored with the call).  Values are found by what the call
knows (the name's parts, the promised amount, the amounts the bot said) and by shape (phone
and card numbers, e-mails, money, dates with a year), so a value said in another form than
the stored one is caught too.

Masks keep the length and the first letter of a name or the last four digits of a number:
a reader can tell values apart and read the sentence around them, and entity spans measured
on the clear text still point at the same words (the corrections export relies on it).
Pure string work, no database: `voicebot/console/views.py` applies it to what the routes show.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dialogue.phone_masking import MIN_PHONE_DIGITS, mask_phone

#: the kinds of personal value a role may see in clear (`auth.SEES` picks among them).
NAME, CONTACT, AMOUNT, BIRTH_DATE = "name", "contact", "amount", "birth_date"
CATEGORIES = frozenset({NAME, CONTACT, AMOUNT, BIRTH_DATE})

_MONTH = ("jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_YEAR = r"(?:19|20)\d\d"
#: a date with a year, as a date of birth is said or typed; "Friday, November 21" (a due or
#: promise date, no year) is not one.
_DATE = (rf"\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]{_YEAR}\b|\b{_YEAR}[/.-]\d{{1,2}}[/.-]\d{{1,2}}\b"
         rf"|\b(?:{_MONTH})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_YEAR}\b"
         rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH})\.?,?\s+{_YEAR}\b"
         rf"|{_YEAR}\s*年\s*\d{{1,2}}\s*月\s*\d{{1,2}}\s*[日号]")
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
#: money: a currency sign before the number, or a currency word after it.
_MONEY = (rf"[$€£¥￥]\s?(?:{_NUMBER})"
          rf"|(?:{_NUMBER})\s?(?:元|块钱?|(?:dollars?|bucks|usd|cad|eur|euros?|gbp|pounds?|cny|rmb|yuan)\b)")
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
#: a run that reads as a phone or card number (dialogue.phone_masking's shape; too few
#: digits and it is left as it is); not inside a Latin word or id ("ACC-12345678"), but
#: right after Chinese text ("电话是13800000001").
_DIGIT_RUN = r"(?<![A-Za-z0-9_+\-/.:])\+?\(?\d[\d\s().-]{6,}\d(?![A-Za-z0-9_:])"
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Known:
    """An account's personal values as stored with its call, to find in what was said."""

    name: str = ""
    phone: str | None = None
    amounts: tuple[float, ...] = ()

    def name_parts(self) -> list[str]:
        """The name's parts worth finding (initials are not), longest first; a name written
        without spaces (张伟) is one part."""
        parts = set(self.name.split())
        parts |= {piece for part in self.name.split() for piece in re.split(r"[-'’]", part)}
        return sorted((p for p in parts if len(p) >= 2 or _CJK.search(p)), key=len, reverse=True)


def amounts_in(texts: Iterable[str | None]) -> tuple[float, ...]:
    """The money amounts `texts` state ("$860.50", "5800元"): what the bot said about this
    account's debt is tied to the debtor, so those numbers are masked wherever they recur."""
    found = set()
    for text in texts:
        for match in re.finditer(_MONEY, text or "", re.IGNORECASE):
            number = re.search(_NUMBER, match.group(0))
            if number:
                found.add(float(number.group(0).replace(",", "")))
    return tuple(sorted(found))


def _amount_forms(value: float) -> list[str]:
    """How an amount is written: 1250 -> 1,250.00 1250.00 1,250 1250; 860.5 -> 860.50 860.5."""
    forms = {f"{value:,.2f}", f"{value:.2f}"}
    if value == int(value):
        forms |= {f"{int(value):,}", str(int(value))}
    elif round(value, 1) == value:
        forms |= {f"{value:,.1f}", f"{value:.1f}"}
    return sorted(forms, key=len, reverse=True)


def _pattern(known: Known) -> str:
    """One alternation, earlier groups first where two could match at the same place: an
    e-mail or a date is not read as a phone number, nor a promised amount as a name."""
    groups = [("email", _EMAIL), ("date", _DATE), ("money", _MONEY)]
    forms = [re.escape(f) for value in known.amounts if value > 0 for f in _amount_forms(value)]
    if forms:
        groups.append(("known_amount", rf"(?<![\d.,])(?:{'|'.join(forms)})(?![\d]|[.,]\d)"))
    digits = re.sub(r"\D", "", known.phone or "")
    if len(digits) >= 7:  # the local part of the account's own number, said with any spacing
        groups.append(("known_phone", r"(?<!\d)" + r"[\s().-]?".join(digits[-7:]) + r"(?!\d)"))
    groups.append(("digits", _DIGIT_RUN))
    names = [re.escape(p) if _CJK.search(p) else rf"(?<!\w){re.escape(p)}(?!\w)" for p in known.name_parts()]
    if names:
        groups.append(("name", "|".join(names)))
    return "|".join(f"(?P<{group}>{body})" for group, body in groups)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


#: which kind of personal value each group of the pattern finds.
_KIND = {"email": CONTACT, "digits": CONTACT, "known_phone": CONTACT, "date": BIRTH_DATE, "money": AMOUNT,
         "known_amount": AMOUNT, "name": NAME}


def mask_word(word: str) -> str:
    """The first character kept, every other letter or digit a star: "Lopez" -> "L****"."""
    return word[:1] + "".join("*" if ch.isalnum() else ch for ch in word[1:])


def mask_digits(text: str) -> str:
    return re.sub(r"\d", "*", text)


def mask_email(email: str) -> str:
    """"maria.lopez@example.com" -> "m**********@*******.***": nothing of it to write to."""
    local, _, domain = email.partition("@")
    return local[:1] + "*" * (len(local) - 1) + "@" + re.sub(r"[^.]", "*", domain)


def mask_name(name: str | None) -> str:
    """"John Carter" -> "J*** C*****", as the name columns show it to a role without names."""
    return " ".join(mask_word(part) for part in (name or "").split())


class Masker:
    """Shows one call's values as one role may see them.  `sees` holds the CATEGORIES the role
    sees in clear; a role that sees them all gets every text back unchanged."""

    def __init__(self, sees: frozenset[str], known: Known = Known()):
        self.sees, self.known = sees, known
        self.clear = CATEGORIES <= sees
        self._regex = None if self.clear else _compiled(_pattern(known))

    def name(self, name: str | None) -> str:
        return (name or "") if NAME in self.sees else mask_name(name)

    def phone(self, phone: str | None) -> str | None:
        return phone if CONTACT in self.sees else mask_phone(phone)

    def text(self, text: str | None) -> str | None:
        """`text` with every personal value the role may not see masked where it stands."""
        if self.clear or not text:
            return text
        return self._regex.sub(self._mask, text)

    def _mask(self, match: re.Match[str]) -> str:
        group, value = match.lastgroup, match.group(0)
        if _KIND[group] in self.sees:
            return value
        if group == "email":
            return mask_email(value)
        if group in ("digits", "known_phone"):
            if group == "digits" and sum(ch.isdigit() for ch in value) < MIN_PHONE_DIGITS:
                return value  # a short number: an amount, a code, a year
            return mask_phone(value) or value
        if group == "name":
            return mask_word(value)
        return mask_digits(value)

    def value(self, key: str, value: Any) -> Any:
        """A captured or detail value: amounts (keys naming one) by their kind, text as text."""
        if "amount" in key and isinstance(value, (int, float, str)) and AMOUNT not in self.sees:
            return mask_digits(str(value))
        return self.text(value) if isinstance(value, str) else value

    def values(self, values: Mapping[str, Any] | None) -> dict[str, Any]:
        return {key: self.value(key, v) for key, v in (values or {}).items()}

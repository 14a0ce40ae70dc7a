"""Mandarin money amounts: 五百, 500块, 一千块钱, 两千五, 三百多, 一万二, 1200元.

Like English, a number with a money cue (块/块钱/元/人民币/美元/¥) is always
an amount; a bare number is one when it is at least 10, starts with a digit
(so the adverbs 千万 "by all means" and 万一 "in case" are skipped) and is
not followed by a measure word or time unit (三个, 十分, 五点, 两年). The
approximation suffix 多/来/几 is kept in the span and ignored in the value
(三百多 = 300: the floor is the safe reading of a promise). 五块五 is 5.5.
"""

from __future__ import annotations

import re

from .entity import Entity
from .numbers_zh import ZH_DIGITS, ZH_UNITS, parse_zh_number, parse_zh_int

_MIN_BARE_AMOUNT = 10.0
_MAX_BARE_DIGITS = 7  # longer unseparated digit runs are phone/account numbers

_MIXED = r"\d+(?:[.,]\d+)*(?:[十百千万亿]+(?:\d|[一二两三四五六七八九])?)?"
_CHINESE = f"[{ZH_DIGITS}十][{ZH_DIGITS}{ZH_UNITS}]*"
_AMOUNT = re.compile(
    rf"""
    (?<![\d.,{ZH_DIGITS}{ZH_UNITS}第之])
    (?P<cur>[¥￥]\s*)?
    (?P<num>{_MIXED}|{_CHINESE})
    (?P<approx>多(?!少)|来(?=块|元)|几(?=块|元))?
    (?:
        (?P<unit>块钱|块(?!儿)|元|圆|人民币|美元|美金|刀)
        (?:(?P<jiao>[一二两三四五六七八九\d])(?:毛|角)?)?
    )?
    """,
    re.VERBOSE,
)
# Measure words / units after a bare number: not money.
_NOT_MONEY_AFTER = re.compile(
    r"[个天日号月年周岁次人期遍倍位点分秒口件本张]|星期|礼拜|小时|分钟|%|％|号码"
)
_NOT_MONEY_BEFORE = re.compile(r"(?:电话|号码|尾号|账号|卡号|百分之|分之)\s*$")
_LOOKBEHIND_CHARS = 4


def _is_bare_money(m: re.Match[str], value: float, text: str, endpos: int) -> bool:
    """Whether a number with no money cue should still count as an amount."""
    num = m.group("num")
    if value < _MIN_BARE_AMOUNT or _NOT_MONEY_AFTER.match(text, m.end(), endpos):
        return False
    if num.isdigit() and len(num) >= _MAX_BARE_DIGITS:
        return False
    return _NOT_MONEY_BEFORE.search(text, max(0, m.start() - _LOOKBEHIND_CHARS), m.start()) is None


def find_amounts(text: str, pos: int = 0, endpos: int | None = None) -> list[Entity]:
    """Amounts in ``text[pos:endpos]``, with offsets into the whole ``text``."""
    end = len(text) if endpos is None else endpos
    found: list[Entity] = []
    for m in _AMOUNT.finditer(text, pos, end):
        value = parse_zh_number(m.group("num"))
        if value is None:
            continue
        if m.group("jiao"):
            value += (parse_zh_int(m.group("jiao")) or 0) / 10
        has_cue = bool(m.group("cur") or m.group("unit"))
        if has_cue or _is_bare_money(m, value, text, end):
            found.append(Entity("amount", round(value, 2), m.group(0), m.start(), m.end()))
    return found

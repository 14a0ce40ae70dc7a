"""Chinese numerals: standard, colloquial and mixed Arabic forms.

Standard numerals are converted with the ``cn2an`` package. Its "smart" mode
also reads mixed forms such as "1.5万" or "3千". The colloquial shortening in
which a trailing digit means the next lower unit ("两千五" = 2500,
"一万二" = 12000, "三百五" = 350) is made explicit here by
:func:`expand_colloquial` before conversion, so the result doesn't depend on
cn2an's undocumented leniency. Approximations ("三百多") are stripped by the
amount regex, which knows the suffix, and not here.
"""

from __future__ import annotations

import cn2an

#: Characters that are digits in Chinese numerals (both forms of zero, 两 = 2).
ZH_DIGITS = "零〇一二两三四五六七八九"
#: Multiplier characters.
ZH_UNITS = "十百千万亿"
#: Regex fragment for a run of Chinese numeral characters.
ZH_NUMERAL = f"[{ZH_DIGITS}{ZH_UNITS}]+"

_NEXT_LOWER_UNIT = {"亿": "千万", "万": "千", "千": "百", "百": "十"}
_SINGLE: dict[str, int] = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_NONZERO_DIGITS = frozenset("一二两三四五六七八九123456789")


def expand_colloquial(numeral: str) -> str:
    """Write the implied unit after a trailing lone digit.

    "两千五" -> "两千五百", "一万二" -> "一万二千", "1万2" -> "1万2千".
    Forms with 零 ("一千零五" = 1005) and a trailing 十 ("三百五十") are
    already explicit and come back unchanged.
    """
    if len(numeral) >= 2 and numeral[-1] in _NONZERO_DIGITS and numeral[-2] in _NEXT_LOWER_UNIT:
        return numeral + _NEXT_LOWER_UNIT[numeral[-2]]
    return numeral


def parse_zh_number(numeral: str) -> float | None:
    """Value of a Chinese, Arabic or mixed numeral; ``None`` if it isn't one.

    Accepts "五百", "两千五", "一万二", "八百五十", "1200", "1,200.5",
    "1.5万", "3千5". Returns ``None`` for fragments like "千万" (an adverb,
    "by all means") or "四五百" (a range), which have no single value.
    """
    if not numeral:
        return None
    plain = numeral.replace(",", "")
    if plain.replace(".", "", 1).isdigit():
        return float(plain)
    if len(numeral) == 1 and numeral in _SINGLE:
        return float(_SINGLE[numeral])
    try:
        return float(cn2an.cn2an(expand_colloquial(numeral), "smart"))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def parse_zh_int(numeral: str) -> int | None:
    """Integer value for day numbers and counts ("十五" -> 15, "3" -> 3)."""
    value = parse_zh_number(numeral)
    if value is None or value != int(value):
        return None
    return int(value)

"""Mandarin date expressions, normalised against the call's date.

Same rules as the English finder (see :mod:`calendar_math`), so a promise
means the same date whichever language the debtor speaks:

* 周五 / 星期五 / 礼拜五 / 这周五: next Friday occurrence, *today included*;
* 下周五 / 下个星期五: Friday of the next calendar week (+7 on a Friday);
* 下周: Monday of next week; 周末 / 这周末: the coming Saturday;
* 月底: last day of this month; 下个月 / 下月初: the 1st of next month;
* 15号 / 3月5日: next occurrence, rolling into next month or year;
* 过两天 = +2 days, 三天后 / 三天之后 = +3, 一周后 = +7, 过几天 = +3.

Past references (上周五, 每周一 "every Monday", 一周一次) are not dates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from . import calendar_math as cal
from .entity import Entity
from .numbers_zh import parse_zh_int

_RELATIVE_DAYS = {"今天": 0, "今日": 0, "今儿": 0, "明天": 1, "明日": 1, "明儿": 1,
                  "后天": 2, "大后天": 3}
_WEEKDAY_CHARS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
                  "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_VAGUE_COUNT = 3  # 几天 "a few days", like English "a few"
_HALF_MONTH_DAYS = 15

_NUM = r"(?:\d{1,2}|[一二两三四五六七八九十]{1,3})"
_COUNT = r"(?P<n>\d{1,3}|[一二两三四五六七八九十]{1,3}|几|半)"
_UNIT = r"(?P<u>天|日|周|星期|礼拜|月)"
_WEEK = r"(?:周|星期|礼拜)"
# Not after: 每 (every), 上 (last), 个 (上个/那个), or a numeral (一周 is a duration).
_NOT_WEEKDAY_BEFORE = r"(?<![每上个一二两三四五六七八九十几\d])"

Resolver = Callable[[re.Match[str], date], date | None]


def _relative_day(m: re.Match[str], today: date) -> date:
    return cal.add_days(today, _RELATIVE_DAYS[m.group(0)])


def _is_next(m: re.Match[str]) -> bool:
    return (m.group("mod") or "").startswith("下")


def _weekday(m: re.Match[str], today: date) -> date:
    weekday = _WEEKDAY_CHARS[m.group("wd")]
    if _is_next(m):
        return cal.weekday_of_next_week(today, weekday)
    return cal.upcoming_weekday(today, weekday)


def _weekend(m: re.Match[str], today: date) -> date:
    return cal.weekday_of_next_week(today, 5) if _is_next(m) else cal.coming_saturday(today)


def _next_week(m: re.Match[str], today: date) -> date:
    return cal.next_week_monday(today)


def _end_of_month(m: re.Match[str], today: date) -> date:
    return cal.end_of_month(today, 1 if _is_next(m) else 0)


def _next_month(m: re.Match[str], today: date) -> date:
    return cal.first_of_next_month(today)


def _day_in_named_month(m: re.Match[str], today: date) -> date | None:
    day = parse_zh_int(m.group("d"))
    return None if day is None else cal.day_in_month_offset(today, int(_is_next(m)), day)


def _day_of_month(m: re.Match[str], today: date) -> date | None:
    day = parse_zh_int(m.group("d"))
    return None if day is None else cal.next_day_of_month(today, day)


def _month_day(m: re.Match[str], today: date) -> date | None:
    month, day = parse_zh_int(m.group("m")), parse_zh_int(m.group("d"))
    year = int(m.group("y")) if m.group("y") else None
    if month is None or day is None:
        return None
    return cal.next_month_day(today, month, day, year)


def _duration(m: re.Match[str], today: date) -> date | None:
    count_text, unit = m.group("n"), m.group("u")
    if count_text == "半":
        return cal.add_days(today, _HALF_MONTH_DAYS) if unit == "月" else None
    count = _VAGUE_COUNT if count_text == "几" else parse_zh_int(count_text)
    if not count:
        return None
    if unit == "月":
        return cal.add_months(today, count)
    return cal.add_days(today, count * (1 if unit in ("天", "日") else 7))


_PATTERNS: tuple[tuple[re.Pattern[str], Resolver], ...] = (
    (re.compile(r"大后天|后天|明天|明日|明儿|今天|今日|今儿"), _relative_day),
    (re.compile(rf"{_NOT_WEEKDAY_BEFORE}(?P<mod>下个?|这个?|本)?{_WEEK}"
                r"(?P<wd>[一二三四五六日天1-7])(?![十百千万\d])"), _weekday),
    (re.compile(rf"(?<![上个])(?P<mod>下个?|这个?|本)?周末"), _weekend),
    (re.compile(rf"下个?{_WEEK}"), _next_week),
    (re.compile(r"(?:(?P<mod>下个?|这个?|本))?月(?:底|末)"), _end_of_month),
    (re.compile(r"下个?月初?"), _next_month),
    (re.compile(rf"(?P<mod>下个?|这个?|本)月(?P<d>{_NUM})(?:号|日)(?!码|元)"), _day_in_named_month),
    (re.compile(rf"(?<![\d零一二两三四五六七八九十百千万])(?P<d>{_NUM})(?:号|日)(?!码|元)"),
     _day_of_month),
    (re.compile(rf"(?:(?P<y>\d{{4}})年)?(?P<m>{_NUM})月(?P<d>{_NUM})(?:号|日)(?!码|元)"), _month_day),
    (re.compile(rf"过{_COUNT}个?{_UNIT}"), _duration),
    (re.compile(rf"{_COUNT}个?{_UNIT}(?:之后|以后|过后|之内|以内|后|内)"), _duration),
)


def find_dates(text: str, today: date) -> list[Entity]:
    """All date candidates in ``text`` (possibly overlapping), resolved."""
    found: list[Entity] = []
    for pattern, resolve in _PATTERNS:
        for m in pattern.finditer(text):
            when = resolve(m, today)
            if when is not None:
                found.append(Entity("date", when.isoformat(), m.group(0), m.start(), m.end()))
    return found

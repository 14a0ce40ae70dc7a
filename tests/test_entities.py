"""Tests for dialogue.entities: date and amount extraction in English and Mandarin."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogue.entities import Entity, extract_entities

MON = date(2026, 11, 23)  # a Monday
FRI = date(2026, 11, 27)  # a Friday
YEAR_END = date(2026, 12, 30)  # a Wednesday, two days before the new year


def _only(text: str, locale: str, today: date, kind: str) -> Entity:
    """The single entity of ``kind`` in ``text``; fails if there are 0 or 2+."""
    found = [e for e in extract_entities(text, locale, today) if e.entity == kind]
    assert len(found) == 1, f"expected one {kind} in {text!r}, got {found}"
    return found[0]


# (today, utterance, ISO date, matched text)
EN_DATES = [
    (MON, "I can pay today", "2026-11-23", "today"),
    (MON, "tomorrow", "2026-11-24", "tomorrow"),
    (MON, "the day after tomorrow", "2026-11-25", "the day after tomorrow"),
    (MON, "I'll pay on Friday", "2026-11-27", "Friday"),
    (MON, "this friday", "2026-11-27", "this friday"),
    (MON, "next friday", "2026-12-04", "next friday"),
    (MON, "friday next week", "2026-12-04", "friday next week"),
    (MON, "monday", "2026-11-23", "monday"),  # bare weekday includes today
    (MON, "next monday", "2026-11-30", "next monday"),
    (MON, "sometime next week", "2026-11-30", "next week"),
    (MON, "this weekend", "2026-11-28", "this weekend"),
    (MON, "next weekend", "2026-12-05", "next weekend"),
    (MON, "by the end of the month", "2026-11-30", "the end of the month"),
    (MON, "end of this month", "2026-11-30", "end of this month"),
    (MON, "end of next month", "2026-12-31", "end of next month"),
    (MON, "next month", "2026-12-01", "next month"),
    (MON, "at the beginning of next month", "2026-12-01", "the beginning of next month"),
    (MON, "in two weeks", "2026-12-07", "in two weeks"),
    (MON, "in 3 days", "2026-11-26", "in 3 days"),
    (MON, "a couple of days", "2026-11-25", "a couple of days"),
    (MON, "give me a couple of days", "2026-11-25", "give me a couple of days"),
    (MON, "in a few days", "2026-11-26", "in a few days"),
    (MON, "two weeks from now", "2026-12-07", "two weeks from now"),
    (MON, "give me 3 days", "2026-11-26", "give me 3 days"),
    (MON, "in a month", "2026-12-23", "in a month"),
    (MON, "the 15th", "2026-12-15", "the 15th"),
    (MON, "on the fifteenth", "2026-12-15", "the fifteenth"),
    (MON, "by the 25th", "2026-11-25", "the 25th"),
    (MON, "the 23rd", "2026-11-23", "the 23rd"),  # today's day of month is today
    (MON, "the 31st", "2026-12-31", "the 31st"),  # November has no 31st
    (MON, "the 25th of next month", "2026-12-25", "the 25th of next month"),
    (MON, "december 3rd", "2026-12-03", "december 3rd"),
    (MON, "Dec 3", "2026-12-03", "Dec 3"),
    (MON, "3 december", "2026-12-03", "3 december"),
    (MON, "the 3rd of December", "2026-12-03", "the 3rd of December"),
    (MON, "12/3", "2026-12-03", "12/3"),
    (MON, "november 20", "2027-11-20", "november 20"),  # already past this year
    (MON, "march 3, 2027", "2027-03-03", "march 3, 2027"),
    (FRI, "friday", "2026-11-27", "friday"),  # said on a Friday: today
    (FRI, "next friday", "2026-12-04", "next friday"),  # said on a Friday: +7
    (FRI, "this weekend", "2026-11-28", "this weekend"),
    (FRI, "monday", "2026-11-30", "monday"),
    (YEAR_END, "tomorrow", "2026-12-31", "tomorrow"),
    (YEAR_END, "the day after tomorrow", "2027-01-01", "the day after tomorrow"),
    (YEAR_END, "friday", "2027-01-01", "friday"),
    (YEAR_END, "next friday", "2027-01-08", "next friday"),
    (YEAR_END, "next week", "2027-01-04", "next week"),
    (YEAR_END, "this weekend", "2027-01-02", "this weekend"),
    (YEAR_END, "end of the month", "2026-12-31", "end of the month"),
    (YEAR_END, "end of next month", "2027-01-31", "end of next month"),
    (YEAR_END, "next month", "2027-01-01", "next month"),
    (YEAR_END, "in two weeks", "2027-01-13", "in two weeks"),
    (YEAR_END, "in a month", "2027-01-30", "in a month"),
    (YEAR_END, "the 15th", "2027-01-15", "the 15th"),
    (YEAR_END, "december 3rd", "2027-12-03", "december 3rd"),
    (YEAR_END, "12/31", "2026-12-31", "12/31"),
    (YEAR_END, "jan 5", "2027-01-05", "jan 5"),
]

ZH_DATES = [
    (MON, "今天", "2026-11-23", "今天"),
    (MON, "我明天还", "2026-11-24", "明天"),
    (MON, "后天", "2026-11-25", "后天"),
    (MON, "大后天", "2026-11-26", "大后天"),
    (MON, "周五", "2026-11-27", "周五"),
    (MON, "星期五", "2026-11-27", "星期五"),
    (MON, "礼拜五", "2026-11-27", "礼拜五"),
    (MON, "这周五", "2026-11-27", "这周五"),
    (MON, "星期天", "2026-11-29", "星期天"),
    (MON, "周一", "2026-11-23", "周一"),  # bare weekday includes today
    (MON, "下周五", "2026-12-04", "下周五"),
    (MON, "下个星期五", "2026-12-04", "下个星期五"),
    (MON, "下礼拜五", "2026-12-04", "下礼拜五"),
    (MON, "这周末", "2026-11-28", "这周末"),
    (MON, "周末吧", "2026-11-28", "周末"),
    (MON, "下周末", "2026-12-05", "下周末"),
    (MON, "下周", "2026-11-30", "下周"),
    (MON, "下个星期", "2026-11-30", "下个星期"),
    (MON, "月底", "2026-11-30", "月底"),
    (MON, "下个月底", "2026-12-31", "下个月底"),
    (MON, "下个月", "2026-12-01", "下个月"),
    (MON, "下月初", "2026-12-01", "下月初"),
    (MON, "下个月25号", "2026-12-25", "下个月25号"),
    (MON, "15号", "2026-12-15", "15号"),
    (MON, "15日", "2026-12-15", "15日"),
    (MON, "二十五号", "2026-11-25", "二十五号"),
    (MON, "3月5日", "2027-03-05", "3月5日"),
    (MON, "三月五号", "2027-03-05", "三月五号"),
    (MON, "12月3号", "2026-12-03", "12月3号"),
    (MON, "过两天", "2026-11-25", "过两天"),
    (MON, "过几天", "2026-11-26", "过几天"),
    (MON, "三天后", "2026-11-26", "三天后"),
    (MON, "三天之后", "2026-11-26", "三天之后"),
    (MON, "一周后", "2026-11-30", "一周后"),
    (MON, "两个星期后", "2026-12-07", "两个星期后"),
    (MON, "一个月后", "2026-12-23", "一个月后"),
    (FRI, "周五", "2026-11-27", "周五"),
    (FRI, "下周五", "2026-12-04", "下周五"),
    (YEAR_END, "明天", "2026-12-31", "明天"),
    (YEAR_END, "后天", "2027-01-01", "后天"),
    (YEAR_END, "下周", "2027-01-04", "下周"),
    (YEAR_END, "月底", "2026-12-31", "月底"),
    (YEAR_END, "下个月", "2027-01-01", "下个月"),
    (YEAR_END, "15号", "2027-01-15", "15号"),
    (YEAR_END, "12月3号", "2027-12-03", "12月3号"),
    (YEAR_END, "一周后", "2027-01-06", "一周后"),
]

# (utterance, value, matched text)
EN_AMOUNTS = [
    ("I can pay 200 dollars", 200.0, "200 dollars"),
    ("$150", 150.0, "$150"),
    ("I can send $1,200.50 today", 1200.5, "$1,200.50"),
    ("fifty bucks", 50.0, "fifty bucks"),
    ("maybe a hundred", 100.0, "a hundred"),
    ("two hundred and fifty", 250.0, "two hundred and fifty"),
    ("1.5k", 1500.0, "1.5k"),
    ("three hundred dollars", 300.0, "three hundred dollars"),
    ("two grand", 2000.0, "two grand"),
    ("twenty-five hundred", 2500.0, "twenty-five hundred"),
    ("one thousand two hundred", 1200.0, "one thousand two hundred"),
    ("I can pay 300", 300.0, "300"),
    ("5 dollars", 5.0, "5 dollars"),
]

ZH_AMOUNTS = [
    ("五百", 500.0, "五百"),
    ("我先还500块", 500.0, "500块"),
    ("一千块钱", 1000.0, "一千块钱"),
    ("两千五", 2500.0, "两千五"),
    ("1200元", 1200.0, "1200元"),
    ("三百多", 300.0, "三百多"),
    ("一万二", 12000.0, "一万二"),
    ("两百块", 200.0, "两百块"),
    ("八百五十元", 850.0, "八百五十元"),
    ("五块五", 5.5, "五块五"),
    ("1.5万", 15000.0, "1.5万"),
]

NO_ENTITIES = [
    ("en", "yes this is john"),
    ("en", "I'll pay on payday"),
    ("en", "when I get paid"),
    ("en", "I have 3 kids"),
    ("en", "call me back at 5"),
    ("en", "one moment please"),
    ("en", "I'm 45 years old"),
    ("en", "my number is 5551234567"),
    ("en", "I was sick for two weeks"),
    ("zh", "我不还"),
    ("zh", "千万别再打了"),
    ("zh", "万一还不上呢"),
    ("zh", "我有三个孩子"),
    ("zh", "十分抱歉"),
    ("zh", "我的电话是13812345678"),
    ("zh", "上周五已经还了"),
    ("zh", "每周一都打电话"),
]

# Numbers that are days, never amounts: exactly one entity, a date.
DAYS_NOT_AMOUNTS = [
    ("en", "the 15th"),
    ("en", "in 3 days"),
    ("en", "in 14 days"),
    ("en", "12/3"),
    ("en", "december 15th"),
    ("zh", "15号"),
    ("zh", "三天后"),
    ("zh", "十五号"),
]


@pytest.mark.parametrize(("today", "text", "iso", "surface"), EN_DATES)
def test_en_dates(today: date, text: str, iso: str, surface: str) -> None:
    ent = _only(text, "en", today, "date")
    assert (ent.value, ent.text) == (iso, surface)


@pytest.mark.parametrize(("today", "text", "iso", "surface"), ZH_DATES)
def test_zh_dates(today: date, text: str, iso: str, surface: str) -> None:
    ent = _only(text, "zh", today, "date")
    assert (ent.value, ent.text) == (iso, surface)


@pytest.mark.parametrize(("text", "value", "surface"), EN_AMOUNTS)
def test_en_amounts(text: str, value: float, surface: str) -> None:
    ent = _only(text, "en", MON, "amount")
    assert (ent.value, ent.text) == (value, surface)
    assert isinstance(ent.value, float)


@pytest.mark.parametrize(("text", "value", "surface"), ZH_AMOUNTS)
def test_zh_amounts(text: str, value: float, surface: str) -> None:
    ent = _only(text, "zh", MON, "amount")
    assert (ent.value, ent.text) == (value, surface)
    assert isinstance(ent.value, float)


@pytest.mark.parametrize(("locale", "text"), NO_ENTITIES)
def test_no_entities(locale: str, text: str) -> None:
    assert extract_entities(text, locale, MON) == []


@pytest.mark.parametrize(("locale", "text"), DAYS_NOT_AMOUNTS)
def test_day_numbers_are_not_amounts(locale: str, text: str) -> None:
    assert [e.entity for e in extract_entities(text, locale, MON)] == ["date"]


@pytest.mark.parametrize(
    ("locale", "text", "expected"),
    [
        ("en", "I can pay 200 dollars next friday",
         [("amount", 200.0, "200 dollars"), ("date", "2026-12-04", "next friday")]),
        ("en", "I will pay 50 on the 15th",
         [("amount", 50.0, "50"), ("date", "2026-12-15", "the 15th")]),
        ("en", "fifty bucks in a couple of days",
         [("amount", 50.0, "fifty bucks"), ("date", "2026-11-25", "in a couple of days")]),
        ("en", "three hundred two weeks from now",
         [("amount", 300.0, "three hundred"), ("date", "2026-12-07", "two weeks from now")]),
        ("zh", "我下周五还五百",
         [("date", "2026-12-04", "下周五"), ("amount", 500.0, "五百")]),
        ("zh", "下个月15号还一万二",
         [("date", "2026-12-15", "下个月15号"), ("amount", 12000.0, "一万二")]),
        ("zh", "三天后还两千五百块钱",
         [("date", "2026-11-26", "三天后"), ("amount", 2500.0, "两千五百块钱")]),
    ],
)
def test_mixed_utterances_in_text_order(locale: str, text: str, expected: list) -> None:
    found = extract_entities(text, locale, MON)
    assert [(e.entity, e.value, e.text) for e in found] == expected


ALL_POSITIVE = (
    [("en", day, text) for day, text, _, _ in EN_DATES]
    + [("zh", day, text) for day, text, _, _ in ZH_DATES]
    + [("en", MON, text) for text, _, _ in EN_AMOUNTS]
    + [("zh", MON, text) for text, _, _ in ZH_AMOUNTS]
)


@pytest.mark.parametrize(("locale", "today", "text"), ALL_POSITIVE)
def test_offsets_match_text(locale: str, today: date, text: str) -> None:
    found = extract_entities(text, locale, today)
    assert found
    for ent in found:
        assert text[ent.start:ent.end] == ent.text


def test_offsets_in_longer_utterance() -> None:
    text = "Okay okay, I can give you $150 on Friday and the rest, 200 dollars, by the 15th."
    found = extract_entities(text, "en", MON)
    assert [(e.value, text[e.start:e.end]) for e in found] == [
        (150.0, "$150"), ("2026-11-27", "Friday"), (200.0, "200 dollars"), ("2026-12-15", "the 15th"),
    ]


def test_case_insensitive_and_offsets_survive_lowercasing() -> None:
    # "İ".lower() is two characters; offsets must still index the original text.
    text = "İİ I can pay TWO HUNDRED DOLLARS on Dec 3rd"
    found = extract_entities(text, "en", MON)
    assert [(e.value, e.text) for e in found] == [(200.0, "TWO HUNDRED DOLLARS"), ("2026-12-03", "Dec 3rd")]
    assert all(text[e.start:e.end] == e.text for e in found)


@pytest.mark.parametrize("locale", ["fr", "EN", "", "zh-CN"])
def test_unknown_locale_raises(locale: str) -> None:
    with pytest.raises(ValueError, match=repr(locale).replace("-", r"\-")):
        extract_entities("tomorrow", locale, MON)


def test_entity_is_frozen_and_hashable() -> None:
    ent = extract_entities("tomorrow", "en", MON)[0]
    assert ent == Entity("date", "2026-11-24", "tomorrow", 0, 8)
    with pytest.raises(AttributeError):
        ent.value = "x"  # type: ignore[misc]
    assert hash(ent) == hash(Entity("date", "2026-11-24", "tomorrow", 0, 8))


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789 $,./-:kthndayweekmonfri号月周五百千万两十一三块元多后天下个")), max_size=40),
       locale=st.sampled_from(["en", "zh"]))
def test_never_raises_and_spans_are_consistent(text: str, locale: str) -> None:
    found = extract_entities(text, locale, MON)
    for ent in found:
        assert text[ent.start:ent.end] == ent.text
        assert ent.entity in ("date", "amount")
    for left, right in zip(found, found[1:]):
        assert left.end <= right.start  # in order, never overlapping

"""Public entry point: dates first, then amounts in the text dates left over.

Dates are found first and win over amounts because the ambiguous numbers in
a payment promise ("the 15th", "in 3 days", "15号", "三天后") are days, never
money. Amounts are then searched only in the gaps between the chosen date
spans, so a number can never belong to both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from . import amounts_en, amounts_zh, dates_en, dates_zh
from .entity import Entity

DateFinder = Callable[[str, date], list[Entity]]
AmountFinder = Callable[[str, int, int], list[Entity]]

_FINDERS: dict[str, tuple[DateFinder, AmountFinder]] = {
    "en": (dates_en.find_dates, amounts_en.find_amounts),
    "zh": (dates_zh.find_dates, amounts_zh.find_amounts),
}
SUPPORTED_LOCALES: tuple[str, ...] = tuple(_FINDERS)


def longest_non_overlapping(candidates: Iterable[Entity]) -> list[Entity]:
    """Keep the longest candidates that don't overlap, in text order.

    Longest-first is what makes "the day after tomorrow" beat "tomorrow" and
    "下个月15号" beat "下个月"; ties go to the leftmost span.
    """
    chosen: list[Entity] = []
    for cand in sorted(candidates, key=lambda e: (e.start - e.end, e.start)):
        if all(cand.end <= kept.start or cand.start >= kept.end for kept in chosen):
            chosen.append(cand)
    return sorted(chosen, key=lambda e: e.start)


def _gaps(length: int, taken: list[Entity]) -> list[tuple[int, int]]:
    """Character ranges of ``[0, length)`` not covered by ``taken`` (sorted)."""
    gaps, cursor = [], 0
    for ent in taken:
        if ent.start > cursor:
            gaps.append((cursor, ent.start))
        cursor = ent.end
    if cursor < length:
        gaps.append((cursor, length))
    return gaps


def extract_entities(text: str, locale: str, today: date) -> list[Entity]:
    """Dates and money amounts in a debtor's utterance, in text order.

    ``locale`` is "en" or "zh"; anything else raises ``ValueError``. Dates
    are resolved relative to ``today`` (the call's date) and returned as ISO
    strings; amounts as floats. See :mod:`dates_en` / :mod:`dates_zh` for
    the date rules ("friday" on a Friday is today, "next friday" is the
    Friday of next week) and :mod:`amounts_en` / :mod:`amounts_zh` for when a
    bare number counts as money.
    """
    try:
        find_dates, find_amounts = _FINDERS[locale]
    except KeyError:
        raise ValueError(
            f"unsupported locale {locale!r}; expected one of {', '.join(SUPPORTED_LOCALES)}"
        ) from None
    dates = longest_non_overlapping(find_dates(text, today))
    amounts: list[Entity] = []
    for start, end in _gaps(len(text), dates):
        amounts.extend(find_amounts(text, start, end))
    return sorted(dates + amounts, key=lambda e: e.start)

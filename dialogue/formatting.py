"""How values are spoken in each locale: money, dates, lists.

Prompts get text a TTS voice reads naturally ("$1,250.00", "Friday, November 20";
"1250.00元", "11月20日"), never raw ISO dates or floats.
"""

from __future__ import annotations

from datetime import date

_CURRENCY_SYMBOL = {"USD": "$", "CAD": "$", "AUD": "$", "GBP": "£", "EUR": "€"}
_ZH_WEEKDAY = "一二三四五六日"


def money(value: float, currency: str, locale: str) -> str:
    if locale.startswith("zh"):
        return f"{value:.2f}元" if value != int(value) else f"{int(value)}元"
    symbol = _CURRENCY_SYMBOL.get(currency)
    number = f"{value:,.2f}" if value != int(value) else f"{int(value):,}"
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def spoken_date(value: date, locale: str) -> str:
    # The weekday with the date, so a debtor hears "Tuesday" and catches a wrong "the 15th".
    if locale.startswith("zh"):
        return f"{value.month}月{value.day}日星期{'一二三四五六日'[value.weekday()]}"
    return f"{value.strftime('%A')}, {value.strftime('%B')} {value.day}"


def spoken_list(items: list[str], locale: str) -> str:
    if locale.startswith("zh"):
        return "、".join(items[:-1]) + ("或" if len(items) > 1 else "") + items[-1]
    if len(items) <= 2:
        return " or ".join(items)
    return ", ".join(items[:-1]) + ", or " + items[-1]


def percent(value: float, locale: str) -> str:
    text = f"{value:g}"
    return f"{text}%" if locale.startswith("zh") else text

"""What the console shows of the promise book: promises and payments as view-models made
through the viewer's `Masker` (voicebot/console/masking.py), like every other page
(voicebot/console/views.py): the debtor's name and phone by the role's rules, a promise's or a
payment's amount masked for a role that may not see amounts.  Portfolio totals (sums over every
debtor, rates) are not about one person and are shown as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from markupsafe import Markup

from voicebot.console.auth import Principal
from voicebot.console.charts import bar_chart, pct
from voicebot.console.masking import AMOUNT, mask_digits
from voicebot.records.promise_figures import BookFigures, PromiseLine, StateCounts
from voicebot.records.promises import Payment


@dataclass(frozen=True)
class PromiseView:
    id: int
    account_id: str
    debtor: str
    phone: str | None
    call_id: str
    stage: str
    voice: str | None
    made_on: date
    promised_on: date
    amount: str
    paid: str
    currency: str
    method: str | None
    state: str
    state_at: datetime | None
    reminded_at: datetime | None
    followed_up_at: datetime | None
    escalated_at: datetime | None
    note: str


@dataclass(frozen=True)
class PaymentView:
    reference: str
    amount: str
    currency: str
    paid_at: datetime
    source: str


def _money(value: float | None, user: Principal) -> str:
    text = f"{float(value or 0):,.2f}"
    return text if AMOUNT in user.masker().sees else mask_digits(text)


def promise_views(lines: list[PromiseLine], user: Principal) -> list[PromiseView]:
    mask = user.masker()  # fields, no free text: name, phone and amounts masked as fields
    out = []
    for line in lines:
        p = line.promise
        out.append(PromiseView(
            p.id, p.account_id, mask.name(line.debtor_name), mask.phone(line.phone), p.call_id, p.stage, p.voice,
            p.made_on, p.promised_on, _money(p.amount, user), _money(p.paid, user), p.currency or "", p.method,
            p.state, p.state_at, p.reminded_at, p.followed_up_at, p.escalated_at,
            mask.text(p.follow_up_note) or ""))
    return out


def payment_views(payments: list[Payment], user: Principal) -> list[PaymentView]:
    return [PaymentView(p.reference, _money(p.amount, user), p.currency or "", p.paid_at, p.source)
            for p in payments]


def rate_charts(figures: BookFigures) -> list[tuple[str, list[Markup]]]:
    """Kept rate and promises by state, by stage, by promised day and by voice."""
    out = []
    for title, groups in (("by stage", figures.by_stage), ("by day", figures.by_day),
                          ("by voice", figures.by_voice)):
        items: list[tuple[str, StateCounts]] = list(groups.items())
        out.append((title, [
            bar_chart(f"Kept rate {title}", [(k, c.kept_rate) for k, c in items], pct, 1.0),
            bar_chart(f"Promises {title}", [(k, float(c.total)) for k, c in items], lambda v: f"{v:.0f}"),
            bar_chart(f"Broken {title}", [(k, float(c.broken)) for k, c in items], lambda v: f"{v:.0f}"),
        ]))
    return out

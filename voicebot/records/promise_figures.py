"""The promise book's figures for the console, aggregated in SQL (no row cap): promises by
state, the kept rate by stage, by promised day and by the voice that heard the promise, and
amount promised against amount collected (per currency: dollars and yuan do not add up).

The kept rate counts only promises already judged: kept / (kept + paid late + partly kept +
broken); a pending promise is neither kept nor broken yet, and one paid after its window was
not kept.  "Collected" is what was paid toward the promises, in their windows and (for those
already late) after them (dialogue/promises.py), as last judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialogue.promises import PROMISE_STATES
from voicebot.records.models import Call
from voicebot.records.promises import Payment, Promise

STATES = PROMISE_STATES


@dataclass
class StateCounts:
    pending: int = 0
    kept: int = 0
    paid_late: int = 0
    partly_kept: int = 0
    broken: int = 0

    @property
    def judged(self) -> int:
        return self.kept + self.paid_late + self.partly_kept + self.broken

    @property
    def kept_rate(self) -> float:
        return self.kept / self.judged if self.judged else 0.0

    @property
    def total(self) -> int:
        return self.judged + self.pending


@dataclass
class BookFigures:
    total: StateCounts = field(default_factory=StateCounts)
    by_stage: dict[str, StateCounts] = field(default_factory=dict)
    by_day: dict[str, StateCounts] = field(default_factory=dict)     # promised day
    by_voice: dict[str, StateCounts] = field(default_factory=dict)
    amounts: dict[str, tuple[float, float]] = field(default_factory=dict)  # currency -> (promised, collected)
    escalated: int = 0


def _grouped(db: Session, key, where) -> dict[str, StateCounts]:
    out: dict[str, StateCounts] = {}
    query = select(key, Promise.state, func.count()).where(*where).group_by(key, Promise.state).order_by(key)
    for group, state, count in db.execute(query):
        counts = out.setdefault(str(group) if group is not None else "unknown", StateCounts())
        if state in STATES:
            setattr(counts, state, getattr(counts, state) + count)
    return out


def book_figures(db: Session, date_from: date | None = None, date_to: date | None = None) -> BookFigures:
    """Figures of the promises due between `date_from` and `date_to` (promised dates)."""
    where = []
    if date_from is not None:
        where.append(Promise.promised_on >= date_from)
    if date_to is not None:
        where.append(Promise.promised_on <= date_to)
    figures = BookFigures(by_stage=_grouped(db, Promise.stage, where), by_day=_grouped(db, Promise.promised_on, where),
                          by_voice=_grouped(db, Promise.voice, where))
    for counts in figures.by_stage.values():
        for state in STATES:
            setattr(figures.total, state, getattr(figures.total, state) + getattr(counts, state))
    query = (select(Promise.currency, func.sum(Promise.amount), func.sum(Promise.paid)).where(*where)
             .group_by(Promise.currency))
    figures.amounts = {currency or "?": (float(promised or 0), float(paid or 0))
                       for currency, promised, paid in db.execute(query)}
    figures.escalated = db.scalar(select(func.count(func.distinct(Promise.account_id)))
                                  .where(Promise.escalated_at.is_not(None), *where)) or 0
    return figures


@dataclass(frozen=True)
class PromiseLine:
    """A promise with the debtor's name and phone from its call (for the masked views)."""

    promise: Promise
    debtor_name: str | None
    phone: str | None


def promise_lines(db: Session, *, state: str | None = None, account_id: str | None = None,
                  escalated: bool | None = None, limit: int = 200) -> list[PromiseLine]:
    """Promises, the latest promised date first, with their debtor from the call they came from."""
    query = (select(Promise, Call.debtor_name, Call.phone).outerjoin(Call, Call.id == Promise.call_id)
             .order_by(Promise.promised_on.desc(), Promise.id.desc()).limit(limit))
    if state:
        query = query.where(Promise.state == state)
    if account_id:
        query = query.where(Promise.account_id == account_id)
    if escalated is not None:
        query = query.where(Promise.escalated_at.is_not(None) if escalated else Promise.escalated_at.is_(None))
    return [PromiseLine(p, name, phone) for p, name, phone in db.execute(query)]


def account_payments(db: Session, account_id: str, limit: int = 200) -> list[Payment]:
    return list(db.scalars(select(Payment).where(Payment.account_id == account_id)
                           .order_by(Payment.paid_at.desc()).limit(limit)))

"""The dashboard's figures, counted by the database: every stored call, whatever their number.

Why in SQL: the console used to load the calls (at most 10,000) and count them in Python, so a
busy deployment's dashboard silently left calls out.  Here each figure is one aggregate
(COUNT, SUM of CASE, GROUP BY) run where the rows are, the same on SQLite and PostgreSQL; only
one row per group comes back.

Latency percentiles keep the definition the dashboard always had, numpy's default: linear
interpolation between the two closest ranks, at position (n - 1) * q / 100 of the sorted
values.  PostgreSQL has `percentile_cont` (the same definition) but SQLite has nothing like it,
so one portable query does it: a window numbers each group's latencies in order
(`row_number()` and `count(*)` over the group, SQLite >= 3.25) and only the two rows either side
of each percentile's position are fetched; Python interpolates between them.  At most four rows
per group leave the database for p50 and p95, however many turns there are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from voicebot.records.models import Call, Turn

PTP_OUTCOMES = ("promise_to_pay", "partial_payment")
PERCENTILES = (50, 95)
TOTAL = ""  # the key of the one group when figures are not grouped


def _rate(part: str, whole: str) -> property:
    """A share of one count in another, 0.0 when the other is 0."""
    def share(self: BaseModel) -> float:
        of = getattr(self, whole)
        return getattr(self, part) / of if of else 0.0
    return property(share)


class Figures(BaseModel):
    """One group's counts; the rates are derived, so they always agree with the counts."""

    placed: int = 0
    connected: int = 0
    rpc: int = 0
    ptp: int = 0
    escalated: int = 0
    talk_time_s: float = 0.0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None

    connect_rate = _rate("connected", "placed")
    rpc_rate = _rate("rpc", "placed")
    ptp_rate = _rate("ptp", "rpc")  # promises among right-party contacts
    escalation_rate = _rate("escalated", "placed")


def utc_day(db: Session) -> ColumnElement:
    """A call's start as its UTC day, in this database's dialect.

    SQLite keeps the naive UTC text the store wrote, so `date()` of it is the UTC day;
    PostgreSQL keeps `timestamptz`, whose date depends on the session's zone unless it is
    first brought to UTC."""
    if db.get_bind().dialect.name == "postgresql":
        # Constants inline, not bound: GROUP BY must repeat the select's expression exactly.
        return func.to_char(func.timezone(literal_column("'UTC'"), Call.started_at),
                            literal_column("'YYYY-MM-DD'"))
    return func.date(Call.started_at)


def grouped_figures(db: Session, where: Sequence[ColumnElement[bool]],
                    key: ColumnElement | None = None) -> dict[str, Figures]:
    """Figures of the calls matching `where`, one per value of `key` (sorted), or a single
    group under TOTAL when `key` is None (then it is there even with no call)."""
    counts = _counts(db, where, key)
    for group, values in _latency_percentiles(db, where, key).items():
        figures = counts.setdefault(group, Figures())
        figures.latency_p50_ms, figures.latency_p95_ms = values[50], values[95]
    if key is None:
        return {TOTAL: counts.get(TOTAL, Figures())}
    return dict(sorted(counts.items()))


def _how_many(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Rows where `condition` holds (NULL counts as false), portable across dialects."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _counts(db: Session, where: Sequence[ColumnElement[bool]], key: ColumnElement | None) -> dict[str, Figures]:
    columns = (func.count(Call.id), _how_many(Call.connected.is_(True)),
               _how_many(Call.identity_confirmed.is_(True)),
               _how_many(and_(Call.identity_confirmed.is_(True), Call.outcome.in_(PTP_OUTCOMES))),
               _how_many(Call.escalated.is_(True)), func.coalesce(func.sum(Call.duration_s), 0.0))
    if key is None:
        rows = [(TOTAL, *db.execute(select(*columns).where(*where)).one())]
    else:
        rows = db.execute(select(key, *columns).where(*where).group_by(key)).all()
    return {str(group): Figures(placed=placed, connected=connected, rpc=rpc, ptp=ptp, escalated=escalated,
                                talk_time_s=round(float(talk), 1))
            for group, placed, connected, rpc, ptp, escalated, talk in rows if placed}


def _latency_percentiles(db: Session, where: Sequence[ColumnElement[bool]],
                         key: ColumnElement | None) -> dict[str, dict[int, float]]:
    """{group: {q: value}} for each q in PERCENTILES, over the matching calls' measured turns."""
    partition = [key] if key is not None else None
    grouping = [key.label("grp")] if key is not None else []
    ranked = (select(*grouping, Turn.latency_ms.label("value"),
                     (func.row_number().over(partition_by=partition, order_by=Turn.latency_ms) - 1).label("rank"),
                     func.count().over(partition_by=partition).label("n"))
              .join(Call, Call.id == Turn.call_id)
              .where(*where, Turn.latency_ms.is_not(None))).subquery()
    near = []
    for q in PERCENTILES:  # the rank at or below the position, and the one after it
        low = (ranked.c.n - 1) * q // 100
        near.append(and_(ranked.c.rank >= low, ranked.c.rank <= low + 1))
    group_column = [ranked.c.grp] if key is not None else []
    rows = db.execute(select(*group_column, ranked.c.n, ranked.c.rank, ranked.c.value).where(or_(*near)))
    sizes: dict[str, int] = {}
    values: dict[str, dict[int, float]] = defaultdict(dict)
    for row in rows:
        *named, n, rank, value = row
        group = str(named[0]) if named else TOTAL
        sizes[group] = n
        values[group][rank] = value
    return {group: {q: _interpolate(values[group], n, q) for q in PERCENTILES} for group, n in sizes.items()}


def _interpolate(by_rank: dict[int, float], n: int, q: int) -> float:
    """numpy's linear percentile from the two ranks around position (n - 1) * q / 100."""
    position = (n - 1) * q / 100
    low = int(position)
    high = min(low + 1, n - 1)
    return by_rank[low] + (by_rank[high] - by_rank[low]) * (position - low)

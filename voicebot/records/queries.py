"""What the console asks of the store: filtered call lists, dashboard figures, corrections.

The dashboard's definitions live here (and in docs/console.md), in one place:

- placed: calls in the store;  connected: the debtor spoke or pressed a key;
- right-party contact (RPC): identity confirmed;
- promise to pay: outcome promise_to_pay or partial_payment, as a share of RPCs;
- connect, RPC and escalation rates: shares of calls placed;
- AI talk time: the summed duration of the calls;
- turn latency p50/p95: over every turn with a measured latency (debtor's end of speech to
  the bot's first audio, as the voice loop measures it).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from voicebot.records.models import Call, Turn

PTP_OUTCOMES = ("promise_to_pay", "partial_payment")
SORTS = {"started": Call.started_at, "score": Call.score, "duration": Call.duration_s,
         "outcome": Call.outcome, "stage": Call.stage}


class CallFilter(BaseModel):
    """The calls list's query string, validated: a bad value is a 422 naming the field."""

    model_config = ConfigDict(extra="ignore")

    date_from: date | None = None
    date_to: date | None = None
    stage: str | None = None
    locale: str | None = None
    outcome: str | None = None
    tag: str | None = None
    score_min: int | None = Field(None, ge=0, le=100)
    score_max: int | None = Field(None, ge=0, le=100)
    escalated: bool | None = None
    low_confidence: bool | None = None
    sort: Literal["started", "score", "duration", "outcome", "stage"] = "started"
    order: Literal["asc", "desc"] = "desc"
    limit: int = Field(500, ge=1, le=10000)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: object) -> object:
        if isinstance(data, dict):  # an HTML form sends "" for "any"
            return {k: v for k, v in data.items() if v not in ("", None)}
        return data

    @model_validator(mode="after")
    def _ranges(self) -> CallFilter:
        if self.score_min is not None and self.score_max is not None and self.score_min > self.score_max:
            raise ValueError("score_min is above score_max")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self

    def query(self) -> Select:
        q = select(Call)
        if self.date_from:
            q = q.where(Call.started_at >= datetime.combine(self.date_from, time(), UTC))
        if self.date_to:
            q = q.where(Call.started_at < datetime.combine(self.date_to + timedelta(days=1), time(), UTC))
        for column, value in ((Call.stage, self.stage), (Call.locale, self.locale), (Call.outcome, self.outcome)):
            if value:
                q = q.where(column == value)
        if self.tag:
            q = q.where(Call.tag_text.like(f"%,{self.tag},%"))
        if self.score_min is not None:
            q = q.where(Call.score >= self.score_min)
        if self.score_max is not None:
            q = q.where(Call.score <= self.score_max)
        if self.escalated is not None:
            q = q.where(Call.escalated.is_(self.escalated))
        if self.low_confidence is not None:
            q = q.where(Call.low_confidence.is_(self.low_confidence))
        column = SORTS[self.sort]
        ordered = column.asc() if self.order == "asc" else column.desc()
        return q.order_by(ordered.nulls_last(), Call.id).limit(self.limit)


def list_calls(db: Session, flt: CallFilter) -> list[Call]:
    return list(db.scalars(flt.query()))


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), without numpy."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class Figures(BaseModel):
    placed: int = 0
    connected: int = 0
    rpc: int = 0
    ptp: int = 0
    escalated: int = 0
    talk_time_s: float = 0.0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None

    @property
    def connect_rate(self) -> float:
        return self.connected / self.placed if self.placed else 0.0

    @property
    def rpc_rate(self) -> float:
        return self.rpc / self.placed if self.placed else 0.0

    @property
    def ptp_rate(self) -> float:
        return self.ptp / self.rpc if self.rpc else 0.0

    @property
    def escalation_rate(self) -> float:
        return self.escalated / self.placed if self.placed else 0.0


def figures(calls: list[Call], latencies: list[float]) -> Figures:
    return Figures(
        placed=len(calls), connected=sum(c.connected for c in calls),
        rpc=sum(c.identity_confirmed for c in calls),
        ptp=sum(c.identity_confirmed and c.outcome in PTP_OUTCOMES for c in calls),
        escalated=sum(c.escalated for c in calls),
        talk_time_s=round(sum(c.duration_s or 0.0 for c in calls), 1),
        latency_p50_ms=percentile(latencies, 50), latency_p95_ms=percentile(latencies, 95))


class Dashboard(BaseModel):
    total: Figures
    by_stage: dict[str, Figures]
    by_day: dict[str, Figures]


def dashboard(db: Session, flt: CallFilter | None = None) -> Dashboard:
    flt = (flt or CallFilter()).model_copy(update={"limit": 10000})
    calls = list_calls(db, flt)
    ids = [c.id for c in calls]
    lat: dict[str, list[float]] = defaultdict(list)
    if ids:
        rows = db.execute(select(Turn.call_id, Turn.latency_ms)
                          .where(Turn.call_id.in_(ids), Turn.latency_ms.is_not(None)))
        for call_id, value in rows:
            lat[call_id].append(value)

    def group(key) -> dict[str, Figures]:
        groups: dict[str, list[Call]] = defaultdict(list)
        for call in calls:
            groups[key(call)].append(call)
        return {k: figures(v, [x for c in v for x in lat[c.id]]) for k, v in sorted(groups.items())}

    return Dashboard(total=figures(calls, [x for c in calls for x in lat[c.id]]),
                     by_stage=group(lambda c: c.stage),
                     by_day=group(lambda c: as_utc(c.started_at).date().isoformat()))


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; they were written in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def corrected_turns(db: Session) -> list[Turn]:
    return list(db.scalars(select(Turn).where(Turn.corrected_intent.is_not(None))
                           .order_by(Turn.corrected_at, Turn.id)))


def distinct_values(db: Session) -> dict[str, list[str]]:
    """Choices for the list's filter selects."""
    out = {}
    for name, column in (("stage", Call.stage), ("locale", Call.locale), ("outcome", Call.outcome)):
        out[name] = sorted(v for v in db.scalars(select(column).distinct()) if v)
    tags: set[str] = set()
    for value in db.scalars(select(Call.tags)):
        tags.update(value or [])
    out["tag"] = sorted(tags)
    return out

"""What the console asks of the store: filtered call lists, dashboard figures, corrections.

The dashboard's definitions live here (and in docs/console.md), in one place:

- placed: calls in the store;  connected: the debtor spoke or pressed a key;
- right-party contact (RPC): identity confirmed;
- promise to pay: outcome promise_to_pay or partial_payment, as a share of RPCs;
- connect, RPC and escalation rates: shares of calls placed;
- AI talk time: the summed duration of the calls;
- turn latency p50/p95: over every turn with a measured latency (debtor's end of speech to
  the bot's first audio, as the voice loop measures it), interpolated linearly between ranks.

The database computes them (voicebot/records/figures.py) over every call the filter matches:
no cap on the number of calls.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from voicebot.records.figures import TOTAL, Figures, grouped_figures, utc_day
from voicebot.records.models import Call, Turn

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

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filter as WHERE conditions on Call, shared by the list and the dashboard."""
        out: list[ColumnElement[bool]] = []
        if self.date_from:
            out.append(Call.started_at >= datetime.combine(self.date_from, time(), UTC))
        if self.date_to:
            out.append(Call.started_at < datetime.combine(self.date_to + timedelta(days=1), time(), UTC))
        for column, value in ((Call.stage, self.stage), (Call.locale, self.locale), (Call.outcome, self.outcome)):
            if value:
                out.append(column == value)
        if self.tag:
            out.append(Call.tag_text.like(f"%,{self.tag},%"))
        if self.score_min is not None:
            out.append(Call.score >= self.score_min)
        if self.score_max is not None:
            out.append(Call.score <= self.score_max)
        if self.escalated is not None:
            out.append(Call.escalated.is_(self.escalated))
        if self.low_confidence is not None:
            out.append(Call.low_confidence.is_(self.low_confidence))
        return out

    def query(self) -> Select:
        """The calls list: the filter, sorted, at most `limit` rows (a page, not a statistic)."""
        q = select(Call).where(*self.conditions())
        column = SORTS[self.sort]
        ordered = column.asc() if self.order == "asc" else column.desc()
        return q.order_by(ordered.nulls_last(), Call.id).limit(self.limit)


def list_calls(db: Session, flt: CallFilter) -> list[Call]:
    return list(db.scalars(flt.query()))


class Dashboard(BaseModel):
    total: Figures
    by_stage: dict[str, Figures]
    by_day: dict[str, Figures]


def dashboard(db: Session, flt: CallFilter | None = None) -> Dashboard:
    """Figures over every call the filter matches (its sort and limit do not apply), in total,
    per stage and per UTC day of the call's start."""
    where = (flt or CallFilter()).conditions()
    return Dashboard(total=grouped_figures(db, where)[TOTAL],
                     by_stage=grouped_figures(db, where, Call.stage),
                     by_day=grouped_figures(db, where, utc_day(db)))


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

"""The dashboard counts every call, however many (issue 19: it loaded at most 10,000 and
silently ignored the rest).

More than 10,000 calls (and their turns) are bulk-inserted through the real records store,
on SQLite and on the local PostgreSQL (in a schema of the test's own, its session in a zone
far from UTC so a day is not taken in local time).  What the dashboard shows is compared with
what the test computes from the rows it wrote, and the total with a plain COUNT(*) of the
table: totals, rates, per stage, per UTC day, talk time and latency percentiles (numpy's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, insert, select

from postgres_schema import own_schema
from voicebot.records import RecordStore
from voicebot.records.models import Call, Turn
from voicebot.records.queries import CallFilter, Figures, dashboard

CALLS = 10_500  # past the old cap of 10,000
STAGES = ("early", "mid", "late")
OUTCOMES = ("promise_to_pay", "partial_payment", "refused", "callback", None)
START = datetime(2026, 10, 1, 0, 3, tzinfo=UTC)


def _rows() -> tuple[list[dict], list[dict]]:
    """Calls seven minutes apart (so many cross midnight UTC) with varied flags; two measured
    turns and an unmeasured opening for each connected call."""
    calls, turns = [], []
    for i in range(CALLS):
        connected = i % 4 != 0
        calls.append(dict(
            id=f"bulk-{i:05d}", account_id=f"ACC-{i % 700}", debtor_name="", phone=None, locale="en",
            stage=STAGES[i % 3], attempt=1, voice=None, started_at=START + timedelta(minutes=7 * i),
            ended_at=None, duration_s=None if i % 13 == 0 else 10.0 + (i % 97) * 0.5,
            outcome=OUTCOMES[i % 5], score=i % 101, tags=[], tag_text=",",
            identity_confirmed=connected and i % 5 != 2, connected=connected, escalated=i % 11 == 0,
            low_confidence=False, confidence_threshold=0.5, details={}, sms=[], handoffs=[], events=[],
            extra={}, recording=None))
        if connected:
            for index in range(3):
                latency = None if index == 0 else 300.0 + (i * 37 + index * 101) % 900 + 0.25 * index
                turns.append(dict(call_id=f"bulk-{i:05d}", index=index, kind="speech", latency_ms=latency))
    return calls, turns


def _expected(calls: list[dict], turns: list[dict], key) -> dict[str, Figures]:
    """Figures per group computed here, in Python, from the rows written."""
    latencies: dict[str, list[float]] = defaultdict(list)
    for turn in turns:
        if turn["latency_ms"] is not None:
            latencies[turn["call_id"]].append(turn["latency_ms"])
    groups: dict[str, list[dict]] = defaultdict(list)
    for call in calls:
        groups[key(call)].append(call)
    out = {}
    for group, members in sorted(groups.items()):
        lat = [x for c in members for x in latencies[c["id"]]]
        out[group] = Figures(
            placed=len(members), connected=sum(c["connected"] for c in members),
            rpc=sum(c["identity_confirmed"] for c in members),
            ptp=sum(c["identity_confirmed"] and c["outcome"] in ("promise_to_pay", "partial_payment")
                    for c in members),
            escalated=sum(c["escalated"] for c in members),
            talk_time_s=round(sum(c["duration_s"] or 0.0 for c in members), 1),
            latency_p50_ms=float(np.percentile(lat, 50)) if lat else None,
            latency_p95_ms=float(np.percentile(lat, 95)) if lat else None)
    return out


def _same(shown: Figures, expected: Figures) -> None:
    counts = ("placed", "connected", "rpc", "ptp", "escalated")
    assert [getattr(shown, n) for n in counts] == [getattr(expected, n) for n in counts]
    assert shown.talk_time_s == pytest.approx(expected.talk_time_s, abs=0.05)
    for name in ("latency_p50_ms", "latency_p95_ms"):
        assert getattr(shown, name) == pytest.approx(getattr(expected, name), abs=1e-6)
    for rate in ("connect_rate", "rpc_rate", "ptp_rate", "escalation_rate"):
        assert getattr(shown, rate) == pytest.approx(getattr(expected, rate))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[RecordStore]:
    if request.param == "sqlite":
        store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
        yield store
        store.close()
        return
    with own_schema() as pg:
        far_zone = ("&" if "?" in pg.url else "?") + "options=-c%20timezone%3DAsia%2FShanghai"
        store = RecordStore(pg.url + far_zone, schema=pg.schema)
        yield store
        store.close()


def test_the_dashboard_counts_every_call_past_ten_thousand(store):
    calls, turns = _rows()
    store.write_now(lambda db: (db.execute(insert(Call), calls), db.execute(insert(Turn), turns)))
    day = lambda c: c["started_at"].astimezone(UTC).date().isoformat()  # noqa: E731
    with store.session() as db:
        assert db.scalar(select(func.count()).select_from(Call)) == CALLS
        board = dashboard(db)
        mid = dashboard(db, CallFilter(stage="mid", limit=1))  # a list's page size is no cap here
    _same(board.total, _expected(calls, turns, lambda c: "all")["all"])
    assert board.total.placed == CALLS
    by_stage = _expected(calls, turns, lambda c: c["stage"])
    assert list(board.by_stage) == list(by_stage)
    for stage, figures in by_stage.items():
        _same(board.by_stage[stage], figures)
    by_day = _expected(calls, turns, day)
    assert list(board.by_day) == list(by_day) and len(by_day) > 40
    for when, figures in by_day.items():
        _same(board.by_day[when], figures)
    _same(mid.total, by_stage["mid"])
    assert list(mid.by_stage) == ["mid"]

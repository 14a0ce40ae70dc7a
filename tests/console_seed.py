"""Stored calls for the console tests that no real call needs to produce: several days,
stages, locales, outcomes, scores and latencies, so filters and the dashboard have variety.

Rows are written through the real store; what they hold is chosen here, and the tests
compute what they expect from the database, never from this module's constants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from telephony.bus.memory import InProcessBus
from voicebot.console.auth import add_user
from voicebot.records.models import Call, Turn
from voicebot.records.store import RecordStore
from voicebot.server import ServerSettings, create_app

#: a console user of each role, all with the password the test passes to `console_app`.
USERS = (("sam", "supervisor"), ("dana", "script_designer"), ("alex", "agent"))


def console_app(records: Path, password: str) -> tuple[FastAPI, InProcessBus]:
    """The server's app over the sample accounts and `records`, with its in-process bus (for
    the live board and the agent queue) and the USERS."""
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=["t"],
                              call_date=CALL_DATE, warm_up=False)
    bus = InProcessBus()
    app = create_app(settings, bus=bus)
    for name, role in USERS:
        add_user(app.state.records, name, password, role)
    return app, bus

#: (id, day offset, stage, locale, outcome, score, tags, escalated, low confidence, identity, spoke)
SEEDS = [
    ("seed-01", -3, "mid", "en", "promise_to_pay", 85, ["promise_to_pay", "identity_confirmed"], False, False, True, True),
    ("seed-02", -3, "late", "en", "refused", 8, ["refuse_to_pay", "identity_confirmed"], False, True, True, True),
    ("seed-03", -2, "late", "en", "escalated", 40, ["request_human", "escalated:request_human"], True, False, True, True),
    ("seed-04", -2, "early", "zh", "no_response", 25, ["identity_unconfirmed"], False, False, False, False),
    ("seed-05", -2, "mid", "zh", "partial_payment", 66, ["partial_payment", "low_confidence"], False, True, True, True),
    ("seed-06", -1, "early", "en", "wrong_party", 15, ["wrong_number", "identity_unconfirmed"], False, False, False, True),
    ("seed-07", -1, "mid", "en", "disputed", 20, ["dispute", "escalated:dispute"], True, True, False, True),
    ("seed-08", -1, "late", "zh", "callback", 45, ["callback_later", "identity_confirmed"], False, False, True, True),
]


def seed_calls(store: RecordStore, today: datetime) -> list[str]:
    def write(db) -> None:
        for n, (cid, day, stage, locale, outcome, score, tags, esc, low, ident, spoke) in enumerate(SEEDS):
            started = (today + timedelta(days=day)).replace(hour=9 + n, tzinfo=UTC)
            db.add(Call(id=cid, account_id=f"ACC-{n}", debtor_name=f"Seed Person{n}", phone=f"+1555000{n:04d}",
                        locale=locale, stage=stage, attempt=1, voice="en-joe", started_at=started,
                        ended_at=started + timedelta(seconds=30 + 7 * n), duration_s=30.0 + 7 * n,
                        outcome=outcome, score=score, tags=sorted(tags), tag_text="," + ",".join(sorted(tags)) + ",",
                        identity_confirmed=ident, connected=spoke, escalated=esc, low_confidence=low,
                        confidence_threshold=0.5))
            for i in range(3 if spoke else 1):
                db.add(Turn(call_id=cid, index=i, kind="opening" if i == 0 else "speech", at_ms=4000 * i,
                            debtor_text=None if i == 0 else f"seed words {i}", intent=None if i == 0 else "affirm",
                            confidence=None if i == 0 else (0.3 if low else 0.9), low_confidence=low and i > 0,
                            bot_text="hello", latency_ms=None if i == 0 else 600.0 + 45 * n + 110 * i))
    store.write_now(write)
    return [s[0] for s in SEEDS]

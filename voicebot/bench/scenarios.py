"""The debtors a benchmark plays: a mix of stages, bot voices and debtor voices, each with the
outcome the dialogue must reach.  A call that ends anywhere else counts as failed: under load,
a late or garbled transcript shows up here before it shows up in a latency figure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dialogue.accounts import load_accounts

SAMPLE_ACCOUNTS = Path(__file__).resolve().parents[2] / "scripts" / "accounts" / "sample_accounts.json"


@dataclass(frozen=True)
class Scenario:
    name: str
    account: str
    debtor: str             # "line|line|..." as `voicebot simulate --debtor` takes it
    expected_outcome: str
    attempt: int = 1        # 2 = a redial: the bot speaks with the locale's other voice
    debtor_voice: str = "en-joe"


# Lines the end-to-end tests check (tests/test_voice_calls.py, test_media_stream_server.py), across
# the three stages, both bot voices (attempt 2 = the other voice) and both debtor voices.  No
# transfer: a transfer now holds the call for a human agent, which a benchmark has none of.
# The two shortest calls come first, so a 2-call smoke run is quick and still covers two stages,
# both bot voices and both debtor voices.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("early-promise", "EN-EARLY-1", "yes this is John|I can pay it on Friday|yes", "promise_to_pay"),
    Scenario("late-wrong-party-redial", "EN-LATE-1", "you have the wrong number", "wrong_party",
             attempt=2, debtor_voice="en-kate"),
    Scenario("mid-refusal-redial", "EN-MID-1", "yes this is Maria|I am not paying that|no I will not pay",
             "refused", attempt=2),
    Scenario("late-promise", "EN-LATE-1", "yes this is David|I can pay it on Friday|yes", "promise_to_pay",
             debtor_voice="en-kate"),
)


def scenario_for(index: int) -> Scenario:
    """Calls cycle through the scenarios, so every level plays the same mix."""
    return SCENARIOS[index % len(SCENARIOS)]


def daytime_zone(now: datetime | None = None) -> str:
    """A fixed-offset zone where it is about 13:00 now.

    The server refuses calls outside the debtor's local calling window (contact rules, judged
    at the wall clock unless a date is pinned, which `voicebot serve` has no flag for); a
    benchmark must run at any hour, so its copies of the accounts live where it is daytime."""
    hour = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).hour
    offset = (13 - hour + 12) % 24 - 12          # UTC-12 .. UTC+11
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT+5 is UTC-5


def write_accounts(path: Path, source: Path = SAMPLE_ACCOUNTS) -> Path:
    """Only the accounts the scenarios use (the server warms just their locale's models), in a
    time zone where calls are allowed now (`daytime_zone`)."""
    wanted = {s.account for s in SCENARIOS}
    zone = daytime_zone()
    accounts = [{**a.model_dump(mode="json", exclude_none=True), "timezone": zone}
                for a in load_accounts(source) if a.id in wanted]
    missing = wanted - {a["id"] for a in accounts}
    if missing:
        raise ValueError(f"{source} lacks the benchmark accounts {sorted(missing)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"accounts": accounts}, indent=2), encoding="utf-8")
    return path

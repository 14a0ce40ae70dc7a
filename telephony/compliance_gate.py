"""Where calls meet the contact rules: the audit trail of blocked attempts, and the check any
call start makes (the media-stream server refuses a call the rules forbid: its gate,
voicebot/server/compliance_gate.py, turns CallForbidden into the close code FORBIDDEN).

The rules themselves are pure (dialogue.compliance.rules.may_call); this module adds the I/O
around them: a JSONL audit file a supervisor can hand to an auditor, one line per blocked
attempt with the rule's name, and the close code a carrier sees when a call is refused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import date, datetime, time, timezone, tzinfo
from pathlib import Path
from typing import Any

from dialogue.accounts import Account
from dialogue.compliance.rules import Attempt, Decision, debtor_time, may_call

FORBIDDEN = 4403   # WebSocket close code (mirrors HTTP 403): the contact rules forbid this call now
AUDIT_FILE = "compliance-audit.jsonl"


def blocked_entry(account: Account, decision: Decision, at: datetime, source: str, **extra: Any) -> dict[str, Any]:
    """One audit line: who, when, which rule (as `jurisdiction:rule`), why, and when it frees."""
    return {
        "at": at.astimezone(timezone.utc).isoformat(), "account": account.id, "source": source,
        "jurisdiction": decision.jurisdiction, "rule": rule_key(decision), "reason": decision.reason,
        "next_allowed_at": decision.next_allowed_at.isoformat() if decision.next_allowed_at else None,
        **extra,
    }


def rule_key(decision: Decision) -> str:
    """`us:calling_window`; `campaign:window` for a campaign's own stricter setting."""
    return f"{decision.jurisdiction or '?'}:{decision.rule}" if decision.rule else "allowed"


class AuditLog:
    """Append-only JSONL; each line is written whole, so concurrent calls never interleave."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def write(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


class CallForbidden(Exception):
    """A call start the contact rules forbid; `message` is the reason sent to the carrier."""

    def __init__(self, decision: Decision):
        self.decision = decision
        when = (f"; next allowed {decision.next_allowed_at:%Y-%m-%d %H:%M} UTC"
                if decision.next_allowed_at else "")
        super().__init__(f"contact rules forbid this call ({rule_key(decision)}): {decision.reason}{when}")


def check_at(account: Account, call_date: date | None = None) -> datetime:
    """Now; or, for a server pinned to a date (tests, demos), midday of that date in the
    debtor's zone, so a replayed call is judged as a daytime call on that date."""
    if call_date is None:
        return datetime.now(timezone.utc)
    debtor = debtor_time(account)
    tz: tzinfo = debtor.primary if debtor.known else timezone.utc  # unknown: may_call refuses it, by name
    return datetime.combine(call_date, time(12), tzinfo=tz).astimezone(timezone.utc)


def check_call_start(account: Account, at: datetime, *, history: Sequence[Attempt] = (), opted_out: bool = False,
                     audit: AuditLog | None = None, source: str = "call_start") -> Decision:
    """Raise CallForbidden (after writing the audit line) unless the account may be called at `at`."""
    decision = may_call(account, history, at, opted_out=opted_out)
    if not decision.allowed:
        if audit is not None:
            audit.write(blocked_entry(account, decision, at, source))
        raise CallForbidden(decision)
    return decision

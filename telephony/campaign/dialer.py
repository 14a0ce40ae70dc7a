"""How a campaign places a call, kept behind a small protocol so the same worker drives the
in-process simulated call today and the media-stream server's provider later.

A dialer only reports what happened on the line (answered / no answer / busy / failed and, when
answered, the call summary with its outcome); every scheduling decision stays in the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from dialogue.accounts import Account

AnswerStatus = Literal["answered", "no_answer", "busy", "failed"]
ANSWER_STATUSES: tuple[str, ...] = ("answered", "no_answer", "busy", "failed")


@dataclass(frozen=True)
class CallRequest:
    account: Account
    stage: str
    voice: str
    attempt: int        # dials of this account in this campaign, this one included
    conversation: int   # answered calls so far + 1: the engine's `attempt`, which picks the voice
    call_id: str
    today: date         # the account's local date, for dates the debtor says ("on friday")


@dataclass
class CallAnswer:
    status: AnswerStatus
    summary: dict[str, Any] | None = None  # the call summary (outcome, score, tags, voice...) when answered
    error: str | None = None

    @property
    def outcome(self) -> str | None:
        return self.summary.get("outcome") if self.status == "answered" and self.summary else None


class Dialer(Protocol):
    async def place(self, request: CallRequest) -> CallAnswer:
        """Dial the account and, if answered, hold the whole conversation; return what happened."""
        ...


def prepared_answer(spec: str | CallAnswer, request: CallRequest) -> CallAnswer:
    """"no_answer", "busy", "failed", or "answered:OUTCOME" (default outcome no_commitment)."""
    if isinstance(spec, CallAnswer):
        return spec
    status, _, outcome = spec.partition(":")
    if status not in ANSWER_STATUSES:
        raise ValueError(f"prepared answer {spec!r}: status must be one of {', '.join(ANSWER_STATUSES)}")
    if status != "answered":
        return CallAnswer(status)  # type: ignore[arg-type]
    outcome = outcome or "no_commitment"
    confirmed = outcome not in ("wrong_party", "no_response")
    return CallAnswer("answered", {
        "call_id": request.call_id, "account": request.account.id, "stage": request.stage,
        "voice": request.voice, "attempt": request.conversation, "outcome": outcome, "score": 0,
        "tags": [f"outcome:{outcome}", "identity_confirmed" if confirmed else "identity_unconfirmed"],
        "details": {},
    })


@dataclass
class PreparedDialer:
    """Answers from a list per account instead of a real call: scheduling tests and dry runs use
    it where the audio path adds nothing (that path is tested with SimulatedDialer).

    `answers[account_id]` is consumed one per dial; the last entry repeats.  `hold_s` keeps each
    call "on the line" for that long in real time, so overlapping calls can be observed."""

    answers: Mapping[str, Iterable[str | CallAnswer]] = field(default_factory=dict)
    default: str = "no_answer"
    hold_s: float = 0.0
    placed: list[CallRequest] = field(default_factory=list)

    async def place(self, request: CallRequest) -> CallAnswer:
        self.placed.append(request)
        if self.hold_s:
            await asyncio.sleep(self.hold_s)
        seq = list(self.answers.get(request.account.id, [])) or [self.default]
        dialled_before = sum(1 for r in self.placed[:-1] if r.account.id == request.account.id)
        return prepared_answer(seq[min(dialled_before, len(seq) - 1)], request)

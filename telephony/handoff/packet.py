"""The context packet an agent sees when the bot hands a call over.

An agent picks up mid-conversation and must not make the debtor repeat themselves, nor say
anything the bot could not: so the packet carries the transcript so far (with what the bot
understood of each debtor turn and how sure it was), why the call was escalated, the stage,
the score and tags, and whether identity was confirmed (no debt detail to an unverified
person or a third party).  The phone number is masked: the packet is stored on a shared bus
and shown on desks; the account id is the key to the full record.

The schema is pydantic so the desk, the console and other processes validate what they read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from dialogue.phone_masking import mask_phone  # re-exported: the console and desks import it from here

if TYPE_CHECKING:
    from dialogue.session import CallSession, TurnRecord

SCHEMA_VERSION = 1
DEFAULT_QUEUE = "collections"


class TranscriptLine(BaseModel):
    """One utterance.  Debtor lines carry the NLU reading; bot lines do not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    turn: int = Field(description="index of the TurnRecord this line comes from")
    at_ms: int = Field(description="milliseconds since the call started")
    speaker: Literal["bot", "debtor"]
    kind: str = Field(description="debtor: speech | dtmf | silence; bot: reply")
    text: str
    intent: str | None = None
    confidence: float | None = None
    low_confidence: bool = Field(False, description="below the locale's NLU threshold: check it")


class HandoffPacket(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    call_id: str
    queue: str = Field(description="agent queue named by the script's transfer action")
    reason: str = Field(description="why the policy escalated, e.g. request_human, dispute")
    created_at: AwareDatetime
    account_id: str
    debtor_name: str
    phone_masked: str | None = Field(description="the account's phone, all but the last digits hidden")
    locale: str
    stage: str
    attempt: int
    identity_confirmed: bool = Field(description="False: the agent must verify before any debt detail")
    third_party: bool
    transcript: list[TranscriptLine]
    intents: list[str] = Field(description="debtor intents in the order heard")
    tags: list[str]
    score: int = Field(ge=0, le=100)
    outcome: str
    captured: dict[str, Any] = Field(default_factory=dict,
                                     description="slots captured so far (promise date, amounts)")
    callback_time: str | None = Field(None, description="set when an unclaimed call took a callback time")


def find_transfer(turn: "TurnRecord") -> dict[str, Any] | None:
    """The transfer action of a turn, if the policy escalated on it."""
    return next((a for a in turn.actions if a.get("kind") == "transfer"), None)


def _transcript(session: "CallSession") -> list[TranscriptLine]:
    threshold = session.scripts.strategy.nlu.confidence_threshold
    lines: list[TranscriptLine] = []
    for turn in session.turns:
        if turn.kind != "opening":
            nlu = turn.nlu or {}
            confidence = nlu.get("confidence")
            lines.append(TranscriptLine(
                turn=turn.index, at_ms=turn.at_ms, speaker="debtor", kind=turn.kind,
                text=turn.debtor_text or "", intent=nlu.get("intent"), confidence=confidence,
                low_confidence=confidence is not None and confidence < threshold))
        if turn.bot_text:
            lines.append(TranscriptLine(turn=turn.index, at_ms=turn.at_ms, speaker="bot",
                                        kind="reply", text=turn.bot_text))
    return lines


def build_packet(session: "CallSession", action: dict[str, Any] | None = None, *,
                 now: datetime | None = None) -> HandoffPacket:
    """The packet for a call the policy is transferring.

    `action` is the turn's {"kind": "transfer", "reason": ..., "queue": ...}; without it the
    session's latest transfer action is used (ValueError when there is none)."""
    if action is None:
        action = next((a for t in reversed(session.turns) if (a := find_transfer(t))), None)
        if action is None:
            raise ValueError(f"call {session.call_id}: no transfer action to hand off")
    elif action.get("kind") != "transfer":
        raise ValueError(f"call {session.call_id}: expected a transfer action, got {action!r}")
    state = session.policy.state
    result = session.result()
    heard = [t.intent for t in session.turns if t.intent]
    return HandoffPacket(
        call_id=session.call_id,
        queue=action.get("queue") or DEFAULT_QUEUE,
        reason=action.get("reason") or state.transfer_reason or "unspecified",
        created_at=now or datetime.now(UTC),
        account_id=session.account.id,
        debtor_name=session.account.name,
        phone_masked=mask_phone(session.account.phone),
        locale=session.scripts.locale,
        stage=session.stage,
        attempt=session.attempt,
        identity_confirmed=state.identity_confirmed,
        third_party=state.third_party,
        transcript=_transcript(session),
        intents=heard,
        tags=list(result.tags),
        score=result.score,
        outcome=result.outcome,
        captured={k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in state.slots.items()},
    )

"""What the console shows of a call, a live call or a handoff packet: view-models made from the
stored rows through the viewer's `Masker` (voicebot/console/masking.py, by `auth.SEES`).

Every route builds what it shows here, and templates get only these views: the raw rows
(`Call`, `Turn`) and packets are refused inside a template (`refuse_raw_records`, installed
by `mount_console`), so a new page that hands a template a row fails at once instead of
showing a name to a role that may not see it.  Views copy the fields a page needs, by name:
a column added to the table later is not shown until someone adds it here, masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment
from sqlalchemy import select

from telephony.handoff.packet import HandoffPacket, TranscriptLine
from voicebot.console.auth import Principal
from voicebot.console.masking import Known, Masker, amounts_in
from voicebot.records.models import Call, Turn
from voicebot.records.promises import Payment, Promise
from voicebot.records.store import RecordStore

#: the keys of an action (SMS, transfer, hang-up) a page shows; its text is masked.
ACTION_KEYS = ("kind", "template", "queue", "reason", "text")


def _amounts(values: Mapping[str, Any] | None) -> list[float]:
    """Amounts among a call's details or a packet's captured slots (promised_amount...)."""
    out = []
    for key, value in (values or {}).items():
        if "amount" in key:
            try:
                out.append(float(value))
            except (TypeError, ValueError):
                pass
    return out


def known(name: str | None, phone: str | None, values: Mapping[str, Any] | None,
          said: Iterable[str | None]) -> Known:
    """An account's values: its name and phone, the amounts in `values` and those said in
    `said` (what the bot told the debtor about the debt, the SMS sent)."""
    return Known(name or "", phone, tuple(sorted({*_amounts(values), *amounts_in(said)})))


def known_of_call(call: Call) -> Known:
    said = [t.bot_text for t in call.turns] + [a.get("text") for a in call.sms or [] if isinstance(a, dict)]
    return known(call.debtor_name, call.phone, call.details, said)


def _action(action: Mapping[str, Any], mask: Masker) -> dict[str, Any]:
    return {k: mask.text(v) if isinstance(v, str) else v for k, v in action.items() if k in ACTION_KEYS}


@dataclass(frozen=True)
class CallRow:
    """A call in the calls list and its CSV."""

    id: str
    started_at: datetime
    account_id: str
    debtor: str
    phone: str | None
    locale: str
    stage: str
    attempt: int
    outcome: str | None
    score: int | None
    tags: list[str]
    escalated: bool
    low_confidence: bool
    identity_confirmed: bool
    duration_s: float | None


def _row(call: Call, mask: Masker) -> CallRow:
    return CallRow(call.id, call.started_at, call.account_id, mask.name(call.debtor_name), mask.phone(call.phone),
                   call.locale, call.stage, call.attempt, call.outcome, call.score, list(call.tags or []),
                   call.escalated, call.low_confidence, call.identity_confirmed, call.duration_s)


def call_rows(calls: Sequence[Call], user: Principal) -> list[CallRow]:
    mask = user.masker()  # the columns hold no free text: name and phone are masked as fields
    return [_row(call, mask) for call in calls]


@dataclass(frozen=True)
class TurnView:
    index: int
    kind: str
    at_ms: int  # where the turn starts in the recording
    debtor_text: str | None
    intent: str | None
    confidence: float | None
    low_confidence: bool
    corrected_intent: str | None
    corrected_by: str | None
    latency_ms: float | None
    bot_text: str
    node: str
    actions: list[dict[str, Any]]


@dataclass(frozen=True)
class CallView(CallRow):
    """A call's page: its facts, SMS and handoffs, and the transcript turn by turn."""

    voice: str | None
    details: dict[str, Any]
    sms: list[dict[str, Any]]
    handoffs: list[dict[str, Any]]
    turns: list[TurnView]


def call_view(call: Call, user: Principal) -> CallView:
    """The call as `user` may see it (its turns loaded)."""
    mask = user.masker(known_of_call(call))
    turns = [TurnView(t.index, t.kind, t.audio_ms if t.audio_ms is not None else t.at_ms, mask.text(t.debtor_text),
                      t.intent, t.confidence, t.low_confidence, t.corrected_intent, t.corrected_by, t.latency_ms,
                      mask.text(t.bot_text) or "", t.node, [_action(a, mask) for a in t.actions or []])
             for t in call.turns]
    row = _row(call, mask)
    return CallView(**vars(row), voice=call.voice, details=mask.values(call.details),
                    sms=[_action(a, mask) for a in call.sms or []],
                    handoffs=[_action(a, mask) for a in call.handoffs or []], turns=turns)


def live_calls(store: RecordStore, calls: list[dict[str, Any]], user: Principal) -> list[dict[str, Any]]:
    """The live board's calls (`LiveBoard.snapshot()`) as `user` may see them: the debtor's
    and the bot's words masked with each call's stored account values.  Blocking (reads the
    store): run it in a thread."""
    if user.masker().clear:
        return calls
    ids = [c["call_id"] for c in calls]
    with store.session() as db:
        rows = {r.id: r for r in db.execute(select(Call.id, Call.debtor_name, Call.phone, Call.details, Call.sms)
                                            .where(Call.id.in_(ids)))} if ids else {}
    out = []
    for call in calls:
        row = rows.get(call["call_id"])
        said = [t.get("bot_text") for t in call["turns"]] + [a.get("text") for a in (row.sms if row else None) or []]
        mask = user.masker(known(row.debtor_name if row else None, row.phone if row else None,
                                 row.details if row else None, said))
        turns = [{**t, "debtor_text": mask.text(t.get("debtor_text")), "bot_text": mask.text(t.get("bot_text"))}
                 for t in call["turns"]]
        out.append({**call, "turns": turns})
    return out


def packet_view(packet: HandoffPacket, user: Principal) -> dict[str, Any]:
    """A handoff packet as `user` may see it (its phone is masked in the packet already)."""
    mask = user.masker(known(packet.debtor_name, None, packet.captured,
                             [line.text for line in packet.transcript if line.speaker == "bot"]))
    view = packet.model_dump()
    view.update(debtor_name=mask.name(packet.debtor_name), captured=mask.values(packet.captured),
                transcript=[{**line, "text": mask.text(line["text"])} for line in view["transcript"]])
    return view


def correction_redactor(user: Principal) -> Callable[[Turn, str], str] | None:
    """For the corrections export: what a corrected turn's debtor said, masked with its call's
    values (same length, so entity spans stay where they were); None for a role that sees all."""
    if user.masker().clear:
        return None
    maskers: dict[str, Masker] = {}

    def redact(turn: Turn, text: str) -> str:
        if turn.call_id not in maskers:
            maskers[turn.call_id] = user.masker(known_of_call(turn.call))
        return maskers[turn.call_id].text(text) or ""
    return redact


class RawRecordInTemplate(TypeError):
    """A template was given a stored row or packet instead of its masked view."""


RAW_RECORDS = (Call, Turn, HandoffPacket, TranscriptLine, Promise, Payment)


def refuse_raw_records(env: Environment) -> None:
    """Make `env`'s templates fail on reading anything of a raw row or packet (`x.y`, `x['y']`):
    what a page shows of a call must come from this module's views, masked for the viewer."""
    getattr_, getitem_ = env.getattr, env.getitem

    def check(obj: Any, name: Any) -> None:
        if isinstance(obj, RAW_RECORDS):
            raise RawRecordInTemplate(f"a template read {type(obj).__name__}.{name}: pass the view from "
                                      "voicebot/console/views.py, masked for the viewer")

    def guarded_getattr(obj: Any, attribute: str) -> Any:
        check(obj, attribute)
        return getattr_(obj, attribute)

    def guarded_getitem(obj: Any, argument: Any) -> Any:
        check(obj, argument)
        return getitem_(obj, argument)
    env.getattr = guarded_getattr  # type: ignore[method-assign]
    env.getitem = guarded_getitem  # type: ignore[method-assign]

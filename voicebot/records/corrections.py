"""Supervisors' intent corrections, and their export as Rasa NLU training data.

A correction keeps the bot's original reading (intent, confidence) on the turn and adds what
the supervisor says it was; the export is what script designers merge into a locale's
`nlu.yml`, written by `dialogue.nlu.rasa_format.dump_nlu` so it reads back with the same
parser the engine trains from.  Entity spans the recogniser found are kept as annotations.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogue.intents import INTENTS
from dialogue.nlu.rasa_format import AnnotatedEntity, Example, dump_nlu
from voicebot.records.models import Call, Turn
from voicebot.records.queries import corrected_turns


class CorrectionError(ValueError):
    """The correction names an unknown intent or a turn the debtor did not speak."""


def correct_intent(db: Session, call_id: str, index: int, intent: str, by: str) -> Turn:
    if intent not in INTENTS:
        raise CorrectionError(f"unknown intent {intent!r}; expected one of {', '.join(INTENTS)}")
    turn = db.scalars(select(Turn).where(Turn.call_id == call_id, Turn.index == index)).first()
    if turn is None:
        raise CorrectionError(f"call {call_id!r} has no turn {index}")
    if turn.kind != "speech" or not turn.debtor_text:
        raise CorrectionError(f"turn {index} of call {call_id!r} is not something the debtor said")
    turn.corrected_intent, turn.corrected_by, turn.corrected_at = intent, by, datetime.now(UTC)
    return turn


#: masks the personal values in what a turn's debtor said, keeping the text's length.
Redact = Callable[[Turn, str], str]


def _example(turn: Turn, redact: Redact | None = None) -> Example:
    said = (turn.debtor_text or "").strip()
    text = redact(turn, said) if redact else said
    spans = []
    for ent in turn.entities or []:
        start, end = ent.get("start"), ent.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text) \
                and "[" not in text and "]" not in text \
                and len(text) == len(said) and text[start:end] == said[start:end]:  # a masked value: no span
            spans.append(AnnotatedEntity(str(ent.get("entity")), text[start:end], start, end))
    spans.sort(key=lambda e: e.start)
    kept, last_end = [], -1
    for span in spans:  # overlapping spans cannot be annotated inline
        if span.start >= last_end:
            kept.append(span)
            last_end = span.end
    return Example(text, turn.corrected_intent or "", tuple(kept))


def export_corrections(db: Session, locale: str | None = None, redact: Redact | None = None) -> str:
    """Rasa NLU YAML of every corrected turn (of one locale if given), grouped by intent.
    `redact` masks what the reader may not see (the console's `views.correction_redactor`);
    an entity whose words it masked loses its annotation, the example stays."""
    turns = corrected_turns(db)
    if locale:
        locales = dict(db.execute(select(Call.id, Call.locale).where(Call.id.in_({t.call_id for t in turns}))).all())
        turns = [t for t in turns if locales.get(t.call_id) == locale]
    return dump_nlu([_example(t, redact) for t in turns])

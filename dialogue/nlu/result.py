"""What NLU returns for one utterance, whichever backend produced it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from dialogue.entities.entity import Entity


@dataclass(frozen=True)
class NluResult:
    text: str
    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...] = ()
    entities: tuple[Entity, ...] = ()
    # The classifier's own top intent before the confidence threshold turned it into
    # out_of_scope; kept so supervisors can see what the bot almost understood.
    raw_intent: str | None = None
    source: str = "builtin"
    notes: tuple[str, ...] = field(default=())

    def entity(self, name: str) -> Entity | None:
        return next((e for e in self.entities if e.entity == name), None)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "raw_intent": self.raw_intent,
            "ranking": [{"intent": i, "confidence": round(c, 4)} for i, c in self.ranking[:5]],
            "entities": [{"entity": e.entity, "value": e.value, "text": e.text,
                          "start": e.start, "end": e.end} for e in self.entities],
            "source": self.source,
        }


class NluBackend(Protocol):
    """Anything that can understand a debtor's line; the engine depends only on this."""

    locale: str

    def parse(self, text: str, today: date) -> NluResult: ...


def apply_threshold(intent: str, confidence: float, threshold: float) -> tuple[str, str | None]:
    """Below the threshold the bot should reprompt, so the intent becomes out_of_scope."""
    if confidence < threshold and intent != "out_of_scope":
        return "out_of_scope", intent
    return intent, None

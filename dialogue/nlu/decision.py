"""From a classifier's ranking to the intent the bot acts on, for any backend.

Three rules, in this order, on the raw probabilities:

1. Context: the node the bot is waiting at makes its expected answers likelier ("yep, Jessica
   here" at the identity question).  Their probabilities are multiplied by `context_boost`
   and the ranking renormalised; nothing else is touched.
2. Protected intents win when their evidence is present: a missed dispute, opt-out or
   attorney is a violation, a needless transfer or question is a few seconds.  The likeliest
   protected intent is chosen when it holds at least `protected_floor`, whether it is the
   top intent or not: one at 0.40 on top is as much evidence as one at 0.40 behind another,
   and the confidence threshold (above the floor) must not throw it away.  (Before
   December 6 a protected top intent under the threshold became `out_of_scope`; on 5-fold
   cross-validation of nlu.yml this rule raised protected recall 0.967 -> 0.979 in English
   and 0.949 -> 0.970 in Mandarin, for 0.3 and 0.2 points more false-protected turns.)
3. Below the confidence threshold the bot asks again (`out_of_scope`), keeping the
   classifier's top intent as `raw_intent` for supervisors.

Pure arithmetic on the ranking, so the built-in classifier, a Rasa server and the session's
second look with context all decide the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from dialogue.intents import PROTECTED_INTENTS
from dialogue.nlu.result import NluResult, apply_threshold


@dataclass(frozen=True)
class DecisionSettings:
    threshold: float
    protected_floor: float = 0.3
    context_boost: float = 1.5


def with_context(ranking: tuple[tuple[str, float], ...], expected: Collection[str],
                 boost: float) -> tuple[tuple[str, float], ...]:
    """The ranking with the expected intents' probabilities boosted, renormalised, re-sorted."""
    if not expected or boost == 1.0 or not ranking:
        return ranking
    scaled = [(name, p * boost if name in expected else p) for name, p in ranking]
    total = sum(p for _, p in scaled) or 1.0
    return tuple(sorted(((name, p / total) for name, p in scaled), key=lambda item: -item[1]))


def choose(ranking: tuple[tuple[str, float], ...], settings: DecisionSettings) -> tuple[str, float, str | None]:
    """(intent, its confidence, the raw top intent when the choice differs from it)."""
    top, confidence = ranking[0]
    name, p = next(((n, p) for n, p in ranking if n in PROTECTED_INTENTS), (None, 0.0))
    if name is not None and p >= settings.protected_floor:
        return name, p, None if name == top else top
    intent, raw = apply_threshold(top, confidence, settings.threshold)
    return intent, confidence, raw


def decide(result: NluResult, settings: DecisionSettings,
           expected: Collection[str] = ()) -> NluResult:
    """The result re-decided from its ranking (with the waiting node's expected intents)."""
    if not result.ranking or result.source == "dtmf":
        return result
    ranking = with_context(result.ranking, expected, settings.context_boost)
    intent, confidence, raw = choose(ranking, settings)
    return replace(result, intent=intent, confidence=confidence, ranking=ranking, raw_intent=raw)

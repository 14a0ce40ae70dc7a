"""Evaluation of any backend on Rasa-format data: per-intent precision/recall/F1, confusions."""

from __future__ import annotations

import copy
import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from dialogue.intents import PROTECTED_INTENTS
from dialogue.nlu.classifier import BuiltinNlu
from dialogue.nlu.rasa_format import NluData
from dialogue.nlu.rasa_http import FallbackNlu
from dialogue.nlu.result import NluBackend
from dialogue.paths import REPO_ROOT


@dataclass
class IntentScore:
    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class EvalReport:
    accuracy: float
    total: int
    per_intent: list[IntentScore]
    confusions: list[tuple[str, str, int]]  # (true, predicted, count), most frequent first
    errors: list[dict] = field(default_factory=list)
    # Share of protected turns (opt-out, dispute, attorney, ...) heard as what they are, and
    # of the other turns taken for a protected one: the two figures the law cares about.
    protected_recall: float | None = None
    false_protected: float | None = None

    def to_dict(self) -> dict:
        return {
            "accuracy": round(self.accuracy, 4),
            "total": self.total,
            "per_intent": [vars(s) for s in self.per_intent],
            "confusions": [{"true": t, "predicted": p, "count": n} for t, p, n in self.confusions],
            "errors": self.errors,
            "protected_recall": self.protected_recall,
            "false_protected": self.false_protected,
        }


def evaluate(backend: NluBackend, data: NluData, today: date) -> EvalReport:
    pairs: list[tuple[str, str]] = []
    errors = []
    for ex in data.examples:
        result = backend.parse(ex.text, today)
        pairs.append((ex.intent, result.intent))
        if result.intent != ex.intent:
            errors.append({"text": ex.text, "true": ex.intent, "predicted": result.intent,
                           "confidence": round(result.confidence, 3)})
    labels = sorted({t for t, _ in pairs} | {p for _, p in pairs})
    scores = []
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append(IntentScore(label, round(precision, 4), round(recall, 4), round(f1, 4),
                                  tp + fn))
    confused = Counter((t, p) for t, p in pairs if t != p)
    accuracy = sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0
    protected = [p == t for t, p in pairs if t in PROTECTED_INTENTS]
    others = [p in PROTECTED_INTENTS for t, p in pairs if t not in PROTECTED_INTENTS]
    return EvalReport(accuracy, len(pairs), scores,
                      [(t, p, n) for (t, p), n in confused.most_common(10)], errors,
                      round(sum(protected) / len(protected), 4) if protected else None,
                      round(sum(others) / len(others), 4) if others else None)


def first_per_intent(data: NluData, limit: int | None) -> NluData:
    """All examples, or the first `limit` of each intent in file order (a quick, repeatable
    subset: `voicebot nlu eval --limit`, mostly for the slow spoken evaluation)."""
    if limit is None:
        return data
    taken: Counter[str] = Counter()
    out = NluData()
    for ex in data.examples:
        if taken[ex.intent] < limit:
            taken[ex.intent] += 1
            out.examples.append(ex)
    return out


def split(data: NluData, test_share: float = 0.2) -> tuple[NluData, NluData]:
    """Deterministic stratified split by a hash of each example, stable across runs and machines."""
    train, test = NluData(), NluData()
    for intent, examples in data.by_intent().items():
        ranked = sorted(examples, key=lambda e: hashlib.sha256(e.text.encode()).hexdigest())
        cut = max(1, round(len(ranked) * test_share))
        test.examples += ranked[:cut]
        train.examples += ranked[cut:]
    return train, test


# --- helpers for `voicebot nlu ...` (kept here so the CLI stays a thin shell) -----------------

def with_threshold(backend: NluBackend, threshold: float) -> NluBackend:
    """A copy of ``backend`` using another confidence threshold (the shared instance is untouched)."""
    if isinstance(backend, FallbackNlu):
        return FallbackNlu(with_threshold(backend.primary, threshold),
                           with_threshold(backend.fallback, threshold))
    if isinstance(backend, BuiltinNlu):
        return BuiltinNlu(backend.model, backend.locale, threshold, backend.protected_floor)
    if hasattr(backend, "threshold"):
        clone = copy.copy(backend)
        clone.threshold = threshold
        return clone
    raise TypeError(f"{type(backend).__name__} has no confidence threshold to override")


def split_eval(data: NluData, locale: str, threshold: float, today: date,
               test_share: float = 0.2, embedding_weight: float = 0.0) -> EvalReport:
    """Train the built-in classifier on the deterministic 80% and evaluate it on the other 20%."""
    train_part, test_part = split(data, test_share)
    return evaluate(BuiltinNlu.from_data(train_part, locale, threshold,
                                         embedding_weight=embedding_weight), test_part, today)


@dataclass
class BenchReport:
    runs: int
    parses: int
    total_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    target_p95_ms: float = 2.0

    @property
    def per_second(self) -> float:
        return self.parses / self.total_s if self.total_s else 0.0

    @property
    def target_met(self) -> bool:
        return self.p95_ms < self.target_p95_ms


def bench(backend: NluBackend, texts: list[str], today: date, runs: int = 5,
          target_p95_ms: float = 2.0) -> BenchReport:
    """Time ``parse()`` of every text ``runs`` times after one untimed warm-up pass."""
    if not texts:
        raise ValueError("nothing to time: no examples")
    for text in texts:
        backend.parse(text, today)
    timings: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(runs):
        for text in texts:
            start = clock()
            backend.parse(text, today)
            timings.append(clock() - start)
    ms = np.asarray(timings, dtype=np.float64) / 1e6
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return BenchReport(runs, len(timings), float(ms.sum()) / 1e3, float(p50), float(p95),
                       float(p99), float(ms.max()), target_p95_ms)


def default_test_file(locale: str, nlu_path: Path) -> Path:
    """The locale's held-out test file (tests/data/nlu/<locale>_test.yml), else its training data."""
    held_out = REPO_ROOT / "tests" / "data" / "nlu" / f"{locale}_test.yml"
    return held_out if held_out.is_file() else nlu_path

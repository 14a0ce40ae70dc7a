"""Optional backend: a Rasa server's `POST /model/parse`, for teams that already run Rasa.

Rasa Open Source does not install on Python 3.11, so it runs as its own server (any Python it
supports) trained on the same `nlu.yml`.  Rasa decides the intent; entities are still
normalised by our own extractor so dates and amounts mean the same whichever backend runs.
If the server cannot be reached the call does not die: `FallbackNlu` answers with the
built-in classifier and notes why in the result.
"""

from __future__ import annotations

from datetime import date

import httpx

from dialogue.entities import extract_entities
from dialogue.intents import INTENT_SET
from dialogue.nlu.decision import DecisionSettings, choose
from dialogue.nlu.result import NluBackend, NluResult


class NluUnavailable(RuntimeError):
    """The NLU server could not be reached or answered nonsense."""


class RasaHttpNlu:
    def __init__(self, url: str, locale: str, threshold: float, timeout_s: float = 0.5,
                 client: httpx.Client | None = None,
                 protected_floor: float = DecisionSettings.protected_floor):
        self.url = url.rstrip("/") + "/model/parse"
        self.locale, self.threshold, self.protected_floor = locale, threshold, protected_floor
        self._client = client or httpx.Client(timeout=timeout_s)

    def parse(self, text: str, today: date) -> NluResult:
        try:
            response = self._client.post(self.url, json={"text": text})
            response.raise_for_status()
            body = response.json()
            top = body["intent"]
            name, confidence = str(top["name"]), float(top["confidence"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise NluUnavailable(f"Rasa server at {self.url} failed: {exc}") from exc
        if name not in INTENT_SET:
            raise NluUnavailable(f"Rasa server at {self.url} returned unknown intent {name!r}; "
                                 "train it on this locale's nlu.yml")
        ranking = tuple((str(r["name"]), float(r["confidence"]))
                        for r in body.get("intent_ranking", []) if r.get("name") in INTENT_SET)
        ranking = ranking or ((name, confidence),)
        intent, confidence, raw = choose(ranking, DecisionSettings(self.threshold, self.protected_floor))
        entities = tuple(extract_entities(text, self.locale, today))
        return NluResult(text, intent, confidence, ranking, entities,
                         raw_intent=raw, source="rasa")


class FallbackNlu:
    """Try the primary backend; on NluUnavailable answer with the fallback and say so."""

    def __init__(self, primary: NluBackend, fallback: NluBackend):
        self.primary, self.fallback = primary, fallback
        self.locale = primary.locale
        self.failures = 0

    def parse(self, text: str, today: date) -> NluResult:
        try:
            return self.primary.parse(text, today)
        except NluUnavailable as exc:
            self.failures += 1
            result = self.fallback.parse(text, today)
            return NluResult(result.text, result.intent, result.confidence, result.ranking,
                             result.entities, result.raw_intent, result.source, (str(exc),))

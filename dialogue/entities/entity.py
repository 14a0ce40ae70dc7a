"""The value object returned by entity extraction.

Kept in its own module so that the locale-specific finders and the public
``extract_entities`` entry point can share it without import cycles.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    """One normalised entity found in an utterance.

    Frozen so results can be cached, hashed and compared in tests.
    ``text == utterance[start:end]`` always holds, so callers can highlight or
    strip the span without re-searching.
    """

    entity: str  # "date" or "amount"
    value: str | float  # date -> ISO "YYYY-MM-DD"; amount -> float (e.g. 200.0)
    text: str  # the matched surface text, exactly as in the input
    start: int  # character offset of the first character
    end: int  # character offset one past the last character

"""Rule-based date and amount extraction for debtor utterances (en, zh).

Usage::

    from datetime import date
    from dialogue.entities import extract_entities

    extract_entities("I can pay 200 dollars next friday", "en", date(2026, 11, 23))
    # [Entity('amount', 200.0, '200 dollars', 10, 21),
    #  Entity('date', '2026-12-04', 'next friday', 22, 33)]

Pure functions, no I/O; all regexes are compiled at import.
"""

from .entity import Entity
from .extract import SUPPORTED_LOCALES, extract_entities

__all__ = ["Entity", "SUPPORTED_LOCALES", "extract_entities"]

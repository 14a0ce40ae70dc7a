"""Whether a piece of a reply that is not fixed script text may still be cached and shared.

A value about the debtor alone (a name, an exact amount: `dialogue.variables.PERSONAL`) is
synthesised for its call and kept for that call only; the others (the lender, a date, "online
banking"), which many accounts of a portfolio share, are cached like script text.  Which values
are personal is known only once the call's service is told (`share_except`); until then nothing
outside the script is shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


class PersonalValues:
    def __init__(self) -> None:
        self._personal: Callable[[], Iterable[str]] | None = None

    def share_except(self, personal: Callable[[], Iterable[str]]) -> None:
        """`personal()` returns the call's personal values as spoken; it is asked at each piece,
        because a call captures new ones."""
        self._personal = personal

    def shareable(self, text: str) -> bool:
        """No word of `text` belongs to one of the call's personal values (and those are known)."""
        if self._personal is None:
            return False
        private = {word for value in self._personal() for word in words(value)}
        return not private & set(words(text))


def words(text: str) -> list[str]:
    """Words compared for personal values: lower case, without the punctuation around them
    ("$1,250," is "$1,250")."""
    return [w for w in (w.strip(".,;:!?\"'()").lower() for w in text.split()) if w]

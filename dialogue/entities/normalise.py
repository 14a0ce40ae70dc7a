"""Length-preserving lower-casing for the English finders.

Matching against a lower-cased copy lets the regexes drop ``re.IGNORECASE``,
which makes the English finders about 40% faster. The copy must keep every
character at its original offset so spans still index the caller's text;
``str.lower`` doesn't guarantee that ("İ" becomes two characters), so such
characters are left as they are.
"""

from __future__ import annotations


def lower_same_length(text: str) -> str:
    """``text.lower()``, except characters whose lower case is longer stay as is."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(low if len(low) == 1 else char for char, low in ((c, c.lower()) for c in text))

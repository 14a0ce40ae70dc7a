"""Word and character error rates between what was said and what the recogniser heard.

Word error rate suits English; Chinese has no spaces between words and a recogniser's
segmentation is arbitrary, so for zh the character error rate is the meaningful figure
(`error_rate`). Both are case- and punctuation-free, with apostrophes dropped ("don't" and
"dont" are the same word), so a transcript is not penalised for Whisper's capitals and commas,
which the classifier ignores too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

Unit = Literal["word", "char"]


def words(text: str) -> list[str]:
    """Lower-case words without punctuation or apostrophes."""
    return re.findall(r"\w+", text.lower().replace("'", "").replace("\u2019", ""))


def chars(text: str) -> list[str]:
    """Characters without spaces or punctuation (for languages written without spaces)."""
    return list("".join(words(text)))


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences (substitution, insertion, deletion)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word edits over the reference's word count (0 for a perfect transcript; may exceed 1)."""
    ref = words(reference)
    return edit_distance(ref, words(hypothesis)) / max(1, len(ref))


def char_error_rate(reference: str, hypothesis: str) -> float:
    """Character edits over the reference's character count."""
    ref = chars(reference)
    return edit_distance(ref, chars(hypothesis)) / max(1, len(ref))


def unit_for(locale: str) -> Unit:
    """Characters for Chinese and Japanese (written without spaces); words otherwise."""
    return "char" if locale.split("-")[0].lower() in ("zh", "ja") else "word"


def tokens(text: str, unit: Unit) -> list[str]:
    """The units an error rate counts in `text`."""
    return chars(text) if unit == "char" else words(text)


def error_rate(reference: str, hypothesis: str, unit: Unit) -> float:
    """WER or CER, as `unit` says."""
    ref = tokens(reference, unit)
    return edit_distance(ref, tokens(hypothesis, unit)) / max(1, len(ref))

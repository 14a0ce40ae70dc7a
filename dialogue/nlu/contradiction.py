"""Does a "yes" carry a "no"?  The guard that keeps a misheard negation from confirming.

Why a rule and not the classifier: the costly mistake is one-sided.  A recogniser that turns
"yeah that's me" into "Yes, not me", or a debtor who says "yes... no, that's not me", must
never unlock the debt; asking once more costs a few seconds.  So wherever a yes would
confirm identity or a promise read back, any sign of negation in the words sends the call to
a clarifying question instead.  Patterns are deliberately broad (they only ever cause a
question to be asked again) and live per locale.
"""

from __future__ import annotations

import re

from dialogue.nlu.classifier import normalise

_EN = re.compile(
    r"^(no|nope|nah|naw|negative)\b"
    r"|\bnot (me|him|her|them|this|that|it|my|the|right|correct|really|quite)\b"
    r"|\b(isn't|ain't|aren't|wasn't|isnt|aint|never|nobody|no one|noone|don't know|dont know)\b"
    r"|\b(wrong|mistaken|incorrect)\b"
    r"|\bno (such|one|longer|that's|thats|it's|its|this|he|she|i'm|im)\b"
)
_ZH = re.compile(r"不是|不对|没这个人|没有这个人|打错|不认识|不在|错了|唔系|不系|冇|没有没有|别瞎说")


def denies(text: str, locale: str) -> bool:
    """True when the words hold a negation that contradicts a plain yes."""
    if locale.startswith("zh"):
        return bool(_ZH.search(text))
    return bool(_EN.search(normalise(text)))

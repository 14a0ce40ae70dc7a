"""Do the debtor's words so far sound like a finished turn?

Asked at each short pause with the recogniser's speculative transcript of the turn so far
(`voicebot.audio.vad.text_turn`). Saying "finished" too soon answers half a sentence ("I was
going to | call you"), so a turn only ends early when the words give no sign of more to come;
anything else waits for the longest silence. The signs are what a listener uses without
prosody: a transcript that trails off (Whisper writes "..." or "," when the audio stops
mid-phrase; a missing full stop says nothing: it drops it on whole lines in some voices), a last
word that cannot end a sentence (a conjunction, preposition,
article, filler, an auxiliary not after its subject: "the problem is"), a stance verb with
nothing after it ("I think"), a conditional clause with no main clause ("If I pay").
An elliptical answer ("Yes, I can.", "It is.", "I do.") is finished.

Pure text rules per locale, so a script designer can read what ends a turn; measured by
`benchmarks/turn_end.py` on sets written blind (`tests/data/turns/`).
"""

from __future__ import annotations

import re
from enum import Enum

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NUMBER = re.compile(r"\d+(st|nd|rd|th|s|k)?$")

# Words after which an English sentence is not over.
_PREPOSITIONS = frozenset("""
on in at to for by with of from about into onto after before around over through without
between under like via per
""".split())  # may end a question: "What's this about?", "Who are you with?"
_CONTINUES = _PREPOSITIONS | frozenset("""
and but or so because cause cuz coz if when while although though unless until than whether
the a an my your our their his its some any every each another
um uh er erm uhm hmm mm ah eh well
""".split())
_AUXILIARIES = frozenset("""
can could will would should might must shall may do does did am is are was were be been being
have has had gonna wanna gotta going want wants need needs got get trying able supposed
""".split())
_SUBJECTS = frozenset("i you we they he she it that this there who which what yes yeah no".split())
# Last words that close a thought: a date, time or amount, an object pronoun, a short answer.
_CLOSES = frozenset("""
today tomorrow tonight yesterday now later soon week weeks month months year years payday
monday tuesday wednesday thursday friday saturday sunday morning afternoon evening night
first second third fourth fifth tenth fifteenth twentieth thirtieth
dollars dollar bucks cents hundred thousand half all everything anything nothing
me that it this them him her us
yes yeah yep yup no nope nah okay ok speaking correct right fine alright thanks bye
please anymore again here there number debt money
""".split())
_ANSWERS = frozenset("yes yeah yep yup no nope nah okay ok sure right correct speaking".split())
_STANCE = re.compile(r"\b(i|we) (think|guess|mean|believe|suppose|hope|feel|figure)$"
                     r"|\b(you know|let me|let's|i'm like|kind of|sort of|i was like|i'd say)$")
_CONDITION = re.compile(r"^(if|unless|although|even though|even if|as soon as)\b")

_ZH_TRAILS = ("然后", "但是", "可是", "不过", "因为", "所以", "就是", "那个", "这个", "还有", "如果",
              "而且", "或者", "跟", "和", "等", "嗯", "呃", "额", "哎", "我", "你", "要", "想", "会", "能",
              "在", "把", "给", "的话")
_ZH_CLOSES = ("吗", "呢", "吧", "了", "的", "是", "对", "好", "行", "嗯嗯", "没有", "不要", "不用", "谢谢",
              "再见", "天", "号", "周", "月", "年", "块", "元", "钱")


class TurnSounds(str, Enum):
    """How the turn so far sounds, from its words alone."""

    FINISHED = "finished"        # closes a thought: end the turn at once
    PROBABLY = "probably"        # a whole sentence, but one that often goes on: wait a little
    UNFINISHED = "unfinished"    # trails off: wait for the longest silence


def turn_sounds(text: str, locale: str = "en") -> TurnSounds:
    """How `text`, the debtor's turn so far as the recogniser heard it, sounds."""
    text = text.strip()
    if not text:
        return TurnSounds.UNFINISHED  # nothing recognised yet: wait for more audio
    if locale.startswith("zh"):
        return _zh_sounds(text)
    return _en_sounds(text)


def sounds_finished(text: str, locale: str = "en") -> bool:
    """True when `text` gives no sign that the speaker will go on (FINISHED or PROBABLY)."""
    return turn_sounds(text, locale) is not TurnSounds.UNFINISHED


def _en_sounds(text: str) -> TurnSounds:
    if text.endswith(("...", "…", ",", "-", "—", ":", ";")):
        return TurnSounds.UNFINISHED
    words = _WORD.findall(text.lower().replace("’", "'"))
    if not words:
        return TurnSounds.UNFINISHED
    last, before = words[-1], (words[-2] if len(words) > 1 else "")
    question = text.endswith("?")
    if last in (_CONTINUES - _PREPOSITIONS if question else _CONTINUES):
        return TurnSounds.UNFINISHED
    if last in _AUXILIARIES and before not in _SUBJECTS and not before.endswith("n't"):
        return TurnSounds.UNFINISHED  # "the problem is", "I can do": not "yes I can", "it is"
    plain = " ".join(words)
    if _STANCE.search(plain):
        return TurnSounds.UNFINISHED
    if text.endswith("?"):  # "Can you?" alone is more often the start of a request
        short = len(words) <= 2 and last in _SUBJECTS and before in _AUXILIARIES
        return TurnSounds.PROBABLY if short else TurnSounds.FINISHED
    if _CONDITION.search(plain) and "," not in text:
        return TurnSounds.UNFINISHED  # "If I pay the whole thing." waits for its main clause
    if last in _CLOSES or _NUMBER.match(last) or len(words) == 1 or plain.endswith("thank you"):
        return TurnSounds.FINISHED
    if words[0] in _ANSWERS and len(words) <= 5:
        return TurnSounds.FINISHED  # "Yes, this is John.", "No, it's not."
    if last in _AUXILIARIES or last.endswith("n't"):
        return TurnSounds.FINISHED  # an elliptical answer: "I can.", "We don't."
    return TurnSounds.PROBABLY


def _zh_sounds(text: str) -> TurnSounds:
    if text.endswith(("，", ",", "、", "…", "...", "：")):
        return TurnSounds.UNFINISHED
    core = text.rstrip("。？！.?! ")
    if not core or core.endswith(_ZH_TRAILS):
        return TurnSounds.UNFINISHED
    return TurnSounds.FINISHED if text.endswith(("？", "?")) or core.endswith(_ZH_CLOSES) else TurnSounds.PROBABLY

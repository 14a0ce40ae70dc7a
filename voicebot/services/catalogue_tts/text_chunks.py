"""Cut a prompt into pieces that are synthesised one after another, first piece short.

Piper and espeak-ng return a sentence's audio only when the whole sentence is done, so the time to
first audio grows with the first sentence (Piper: 90 ms for a short one, 470 ms for 7 s of
speech). While piece 1 plays, the next pieces are synthesised far faster than real time, so only
the first one's length matters, provided each next piece is ready before the audio queued ahead
of it has played. So the first piece is at most about 40 characters and each later one at most
twice what is queued before it (capped at 220): at a real-time factor below 0.5 it is then ready
in time. A sentence over the limit is cut at a clause boundary (comma, semicolon, colon, dash, or
their CJK forms): the last one within the limit, even as short as "Hello,", else the first one
after it. Never mid-clause, which would break the phrase's prosody (or a name), unless a run-on
has no clause boundary in over twice `max_chunk`; a sentence with no punctuated break in reach may be cut before a
subordinating word ("that", "because", "and", ...). The punctuation stays on the piece so the voice
keeps its continuing intonation. Sentences are never merged. Length is counted in "Latin-character
equivalents" (a CJK character counts 3), about 15 per second of speech.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
# Sentence end: .!? followed by space, or CJK .!?; which need no space after them.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|(?<=[。!?;])[\"'”’)\]]*\s*")
# A comma between digits is a thousands separator ("$1,250"), never a clause end.
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|\s+[—–-]\s+|(?<=[、，；：])\s*|(?<=[,;:])(?=[^\s\d])")
# English phrase boundaries without punctuation: before a relative or subordinate word. Used
# only when a sentence has no punctuated clause break where one is needed, so a long first
# sentence ("... a payment plan | that fits your situation.") still starts speaking early.
_PHRASE_START = re.compile(r"\s+(?=(?:that|which|because|so that|but|and|or|if|when|while|until|before|after)\b)")
# Words after which a period does not end a sentence (titles, initials, "No. 5").
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|No|vs|etc|e\.g|i\.e|approx)|\b[A-Z])\.$", re.I
)

FIRST_CHUNK = 40
MAX_CHUNK = 220


def speech_length(text: str) -> int:
    """Length in Latin-character equivalents (CJK characters count 3)."""
    return len(text) + 2 * len(_CJK.findall(text))


def split_sentences(text: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        piece = text[start : m.end()].strip()
        if piece and not _ABBREVIATION.search(text[start : m.start()].rstrip()):
            pieces.append(piece)
            start = m.end()
    if tail := text[start:].strip():
        pieces.append(tail)
    return pieces


def split_for_tts(
    text: str, first_chunk: int = FIRST_CHUNK, max_chunk: int = MAX_CHUNK
) -> list[str]:
    """Pieces of `text` in order: sentences, cut at clauses to fit growing limits (see module)."""
    chunks: list[str] = []
    queued = 0  # speech length of the pieces before this one
    for sentence in split_sentences(text):
        rest = sentence
        while True:
            limit = min(max_chunk, max(first_chunk, 2 * queued))
            cut = _best_cut(rest, limit, max_chunk)
            piece, rest = (rest, "") if cut is None else (rest[:cut].strip(), rest[cut:].strip())
            chunks.append(piece)
            queued += speech_length(piece)
            if not rest:
                break
    return chunks


def _best_cut(text: str, limit: int, max_chunk: int) -> int | None:
    """Where to cut `text` so the head is about `limit` long, or None to keep it whole."""
    total = speech_length(text)
    if total <= limit:
        return None
    shortest = max(12, limit // 4)  # a shorter tail sounds clipped; a head may be "Hello,"
    cuts = [m.end() for m in _CLAUSE_END.finditer(text)]
    if not any(speech_length(text[:c]) <= limit for c in cuts):
        cuts = sorted(set(cuts) | {m.end() for m in _PHRASE_START.finditer(text)})
    cuts = [c for c in cuts if speech_length(text[:c]) >= 5 and speech_length(text[c:]) >= shortest]
    within = [c for c in cuts if speech_length(text[:c]) <= limit]
    if within or cuts:
        return within[-1] if within else cuts[0]
    if total <= 2 * max_chunk:
        return None
    # No clause boundary: cut at the last space before the limit (CJK: at the limit).
    head = text[: max(1, limit // (3 if _CJK.search(text) else 1))]
    space = head.rfind(" ")
    return space if space >= shortest else len(head)

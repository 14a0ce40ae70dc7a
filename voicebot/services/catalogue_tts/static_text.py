"""Which words of a script are the same for every debtor: the static fragments of its templates.

A prompt with any per-account value ("May I speak with {name}?") is not static as a whole, so
the prompt cache never held it, yet most of its sentences are fixed script text ("This call is
recorded.").  The TTS services cut every prompt into pieces anyway (`text_chunks`); a piece
that lies entirely inside the literal text of some template (constants such as the company
filled in) sounds the same for every debtor, so its audio can be cached and replayed like a
static prompt.  Only script text qualifies, never text that came from an account, so the cache
still holds no personal data (`audio_models.prompt_cache`).

In the benchmark's calls about half of the bot's speech is in such pieces, and Piper synthesis
is the largest CPU cost of a call (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from audio_models.prompt_cache import normal_text
from dialogue.script.disclosure import node_texts
from dialogue.script.templates import PLACEHOLDER
from dialogue.variables import CONSTANTS


def literal_fragments(template: str, constants: Mapping[str, str]) -> list[str]:
    """The template's text between per-account placeholders, with constants filled in."""
    filled = PLACEHOLDER.sub(
        lambda m: str(constants[m.group(1)]) if m.group(1) in CONSTANTS and m.group(1) in constants
        else m.group(0), template)
    parts, last = [], 0
    for match in PLACEHOLDER.finditer(filled):
        parts.append(filled[last:match.start()])
        last = match.end()
    parts.append(filled[last:])
    return [normal_text(part) for part in parts if part.strip()]


def script_fragments(scripts) -> list[str]:
    """Static fragments of every text a locale's scripts can speak (`LocaleScripts`)."""
    constants = dict(getattr(scripts.strategy, "constants", {}) or {})
    templates: list[str] = []
    for stage in scripts.stages.values():
        for node in stage.nodes.values():
            templates += node_texts(node, scripts.responses)
    for variants in scripts.responses.values():
        templates += list(variants)
    return sorted({f for t in dict.fromkeys(templates) for f in literal_fragments(t, constants)})


class StaticText:
    """Answers "is this piece fixed script text?" by substring search over the fragments."""

    def __init__(self, fragments: Iterable[str] = ()):
        # Spaces around each fragment so a piece only matches on word boundaries ("ok." must
        # not match inside "Book."); pieces are cut at whitespace, so theirs are word boundaries.
        self._corpus = "\n".join(f" {normal_text(f)} " for f in fragments if f.strip())

    def __bool__(self) -> bool:
        return bool(self._corpus)

    def covers(self, piece: str) -> bool:
        text = normal_text(piece)
        return bool(text) and f" {text} " in self._corpus

    def spans(self, piece: str, min_words: int = 2) -> list[tuple[str, bool]]:
        """The piece as (text, fixed) runs of words, in order: each fixed run is the longest
        one starting there that lies inside script text (at least `min_words`: a lone "of"
        is not worth a join); the words between are the account's values ("John Smith",
        "$1,240.50,"). One (piece, False) when nothing fixed is in it."""
        words = piece.split()
        runs: list[tuple[str, bool]] = []
        loose: list[str] = []
        i = 0
        while i < len(words):
            j = i
            while j < len(words) and self.covers(" ".join(words[i:j + 1])):
                j += 1  # a run not covered cannot become covered by growing
            if j - i >= min_words:
                if loose:
                    runs.append((" ".join(loose), False))
                    loose = []
                runs.append((" ".join(words[i:j]), True))
                i = j
            else:
                loose.append(words[i])
                i += 1
        if loose:
            runs.append((" ".join(loose), False))
        return runs


_by_scripts: dict[int, tuple[object, StaticText]] = {}


def static_text_for(scripts, *, enabled: bool = True) -> StaticText:
    """The fragments of a locale's scripts, computed once per loaded scripts object.
    `enabled=False` (VOICEBOT_STATIC_PIECES=0) turns piece caching off, to measure what it saves."""
    if not enabled:
        return StaticText()
    entry = _by_scripts.get(id(scripts))
    if entry is None or entry[0] is not scripts:
        entry = (scripts, StaticText(script_fragments(scripts)))
        _by_scripts[id(scripts)] = entry
    return entry[1]

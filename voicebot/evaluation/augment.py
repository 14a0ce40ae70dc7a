"""Training data as the recogniser hears it: transcripts of synthesised training examples.

Why: the classifier learns from clean text, but a call gives it Whisper's transcript of 8 kHz
audio ("stop calling me" as "start calling me", "attorney" as "a turn e").  Speaking a sample
of the training examples with a few voices through the production line and recogniser, and
keeping each transcript that differs from its text under the example's label, teaches the
classifier the recogniser's habits.  Only training data is spoken: a transcript whose text is
a locked evaluation turn is never kept (the locked sets are not trained on).

The result is `nlu_asr.yml` beside the locale's nlu.yml, which the engine trains on too
(`LocaleScripts.nlu_paths`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from dialogue.nlu.classifier import normalise
from dialogue.nlu.rasa_format import Example, NluData, dump_nlu
from voicebot.evaluation.audio_eval import Spoken
from voicebot.evaluation.text_error import Unit, error_rate

ASR_FILE = "nlu_asr.yml"
# Slips, not garbage: a transcript keeps its example's label only while most of it is right.
MAX_ERROR = 0.4


def spread_sample(data: NluData, per_intent: int) -> list[Example]:
    """Up to `per_intent` examples of each intent, spread over the file by a hash of their text
    (not the first ones, which are the most canonical), the same on every machine."""
    by_intent: dict[str, list[Example]] = {}
    for ex in data.examples:
        by_intent.setdefault(ex.intent, []).append(ex)
    out: list[Example] = []
    for examples in by_intent.values():
        ranked = sorted(examples, key=lambda e: hashlib.sha256(e.text.encode()).hexdigest())
        out += ranked[:per_intent]
    return out


def misheard_examples(spoken: Iterable[Spoken], known: set[str], forbidden: set[str],
                      unit: Unit = "word", max_error: float = MAX_ERROR) -> list[Example]:
    """Transcripts that differ from every known training text, labelled with their example's
    intent; none that is empty, a locked turn, heard twice, or so far from its text (error rate
    above `max_error`) that it no longer says what the label says: "you" heard for a whole
    insult would teach that "you" is abusive."""
    out: list[Example] = []
    seen = set(known)
    for item in spoken:
        key = normalise(item.transcript)
        if not key or key in seen or key in forbidden:
            continue
        if error_rate(normalise(item.text), key, unit) > max_error:
            continue
        seen.add(key)
        out.append(Example(key, item.intent))
    return out


def write_asr_file(folder: Path, examples: list[Example], voices: list[str]) -> Path:
    path = folder / ASR_FILE
    tmp = path.with_suffix(".yml.tmp")
    header = ("# Whisper transcripts of synthesised training examples (voicebot nlu augment;\n"
              f"# voices {', '.join(voices)}). Generated: re-run the command rather than editing.\n")
    tmp.write_text(header + dump_nlu(sorted(examples, key=lambda e: e.intent)), encoding="utf-8")
    tmp.replace(path)
    return path


def asr_file_voices(path: Path) -> list[str]:
    """The voices an existing nlu_asr.yml says it was made with (its header), to keep naming
    them when more are added."""
    for line in path.read_text(encoding="utf-8").splitlines()[:3]:
        if "# voices " in line:
            return [v.strip() for v in line.split("# voices ", 1)[1].split(")")[0].split(",") if v.strip()]
    return []

"""A script folder's problems, including the ones only the engine can see: the dialogue's own
checks (`dialogue.script.checks`) plus whether each stage's voices exist in the audio catalogue.

Here, below both the CLI (`voicebot scripts validate`) and the console's script pages, because
dialogue/ stays free of the audio side and the console must not import the CLI.
"""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path

from dialogue.problems import Problem
from dialogue.script.checks import check_locale
from dialogue.script.loader import STRATEGY_FILE, LocaleScripts, read_locale


def check_voices(scripts: LocaleScripts) -> list[Problem]:
    """Stage voices must exist in the audio catalogue, in the script's language.

    Checked here rather than in dialogue/, which stays free of the audio side."""
    from audio_models.catalogue import load_catalogue

    catalogue = load_catalogue()
    known = {v.id: v for v in catalogue.voices}
    doc = scripts.docs[STRATEGY_FILE]
    out = []
    for i, entry in enumerate(scripts.strategy.stages):
        for j, voice in enumerate(entry.voices):
            path = ("stages", i, "voices", j)
            if voice not in known:
                close = difflib.get_close_matches(voice, list(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(known)}"
                out.append(doc.problem(path, f"unknown voice {voice!r}{hint}", "unknown-voice"))
            elif catalogue.voices_for(scripts.locale) and known[voice] not in catalogue.voices_for(scripts.locale):
                out.append(doc.problem(path, f"voice {voice!r} speaks {known[voice].locale}, not "
                                       f"{scripts.locale}", "unknown-voice"))
    return out


def validate_paths(paths: list[Path], today: date | None = None) -> list[Problem]:
    """Every problem in these locale folders; date-dependent checks judge at `today` (default:
    the local date now)."""
    problems: list[Problem] = []
    for folder in paths:
        scripts, found = read_locale(folder)
        problems += found
        if scripts is not None:
            problems += check_locale(scripts, today or date.today()) + check_voices(scripts)
    return sorted(set(problems))

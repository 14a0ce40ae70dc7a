"""`voicebot scripts ...`: what script designers run while editing YAML."""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path

import typer

from dialogue.paths import scripts_root
from dialogue.script.checks import check_locale
from dialogue.script.loader import STRATEGY_FILE, LocaleScripts, read_locale
from dialogue.problems import Problem
from dialogue.script.schema import stale_schemas, write_schemas

scripts_app = typer.Typer(no_args_is_help=True, help="Validate and publish dialogue scripts.")


def _locale_dirs(path: Path) -> list[Path]:
    if (path / STRATEGY_FILE).is_file():
        return [path]
    found = sorted(p for p in path.iterdir() if (p / STRATEGY_FILE).is_file()) if path.is_dir() else []
    if not found:
        raise typer.BadParameter(f"{path} holds no {STRATEGY_FILE} (give a locale folder such as "
                                 "scripts/en, or the scripts folder)")
    return found


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


@scripts_app.command()
def validate(path: Path = typer.Argument(None, help="locale folder or scripts folder")) -> None:
    """Check structure, graph, variables, identity-first rule, language and NLU data.

    Prints `file:line:column: severity: message [code]` per problem; exits 1 on any error."""
    target = path or scripts_root()
    folders = _locale_dirs(target)
    problems = validate_paths(folders)
    for problem in problems:
        typer.echo(str(problem))
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    names = ", ".join(f.name for f in folders)
    typer.echo(f"{names}: {errors} error(s), {warnings} warning(s)", err=True)
    raise typer.Exit(1 if errors else 0)


@scripts_app.command()
def schema(check: bool = typer.Option(False, "--check", help="fail if the published schema is stale"),
           out: Path = typer.Option(None, help="folder to write to (default scripts/schema)")) -> None:
    """Publish the JSON Schemas editors use to autocomplete script files."""
    folder = out or scripts_root() / "schema"
    if check:
        stale = stale_schemas(folder)
        if stale:
            typer.echo(f"stale: {', '.join(stale)}; run `voicebot scripts schema`", err=True)
            raise typer.Exit(1)
        typer.echo("schemas up to date")
        return
    for written in write_schemas(folder):
        typer.echo(f"wrote {written}")

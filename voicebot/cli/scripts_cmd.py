"""`voicebot scripts ...`: what script designers run while editing YAML."""

from __future__ import annotations

from pathlib import Path

import typer

from dialogue.paths import scripts_root
from dialogue.script.loader import STRATEGY_FILE
from dialogue.script.schema import stale_schemas, write_schemas
from voicebot.script_validation import validate_paths

scripts_app = typer.Typer(no_args_is_help=True, help="Validate and publish dialogue scripts.")


def _locale_dirs(path: Path) -> list[Path]:
    if (path / STRATEGY_FILE).is_file():
        return [path]
    found = sorted(p for p in path.iterdir() if (p / STRATEGY_FILE).is_file()) if path.is_dir() else []
    if not found:
        raise typer.BadParameter(f"{path} holds no {STRATEGY_FILE} (give a locale folder such as "
                                 "scripts/en, or the scripts folder)")
    return found


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

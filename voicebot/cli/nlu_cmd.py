"""`voicebot nlu ...`: evaluate and time the intent classifier.

The arithmetic lives in dialogue.nlu.evaluate; this module only loads, prints and exits.
Reports end with `accuracy: 0.NNN` as their very last line so scripts can `tail -1`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dialogue.nlu.evaluate import (EvalReport, bench as run_bench, default_test_file, evaluate,
                                   split_eval, with_threshold)
from dialogue.nlu.factory import build_nlu, builtin_for
from dialogue.nlu.rasa_format import NluData, NluDataError, load_nlu_file
from dialogue.paths import locale_dir
from dialogue.script.loader import LocaleScripts, load_locale
from dialogue.script.problems import ScriptError

nlu_app = typer.Typer(no_args_is_help=True, help="Intent classifier tools.")

LOCALE = typer.Option(..., "--locale", help="script locale, a folder under scripts/")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _scripts(locale: str) -> LocaleScripts:
    try:
        return load_locale(locale_dir(locale))
    except (FileNotFoundError, ScriptError) as exc:
        raise _fail(str(exc)) from None


def _data(path: Path) -> NluData:
    try:
        data = load_nlu_file(path)
    except NluDataError as exc:
        raise _fail(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{path}: cannot read NLU data ({exc.__class__.__name__}: {exc})") from None
    if not data.examples:
        raise _fail(f"{path}: no intent examples (expected Rasa NLU format)")
    return data


def _print(report: EvalReport, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    console = Console(highlight=False, soft_wrap=True)
    table = Table(title=f"{report.total} examples")
    for name in ("intent", "precision", "recall", "F1", "support"):
        table.add_column(name, justify="left" if name == "intent" else "right")
    for s in report.per_intent:
        style = "red" if s.f1 < 0.8 else None
        table.add_row(s.intent, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}",
                      str(s.support), style=style)
    console.print(table)
    console.print("most confused (true -> predicted):" if report.confusions
                  else "most confused: none")
    for true, predicted, count in report.confusions:
        console.print(f"  {true} -> {predicted}: {count}")
    typer.echo(f"accuracy: {report.accuracy:.3f}")


@nlu_app.command("eval")
def eval_cmd(
    file: Path = typer.Argument(..., help="Rasa-format NLU file to evaluate on"),
    locale: str = LOCALE,
    as_json: bool = typer.Option(False, "--json", help="print one JSON object instead"),
    threshold: float | None = typer.Option(None, min=0.0, max=1.0,
                                    help="confidence threshold (default: the strategy's)"),
) -> None:
    """Evaluate the locale's configured NLU backend on FILE: per-intent P/R/F1 and confusions."""
    data = _data(file)
    backend = build_nlu(_scripts(locale))
    if threshold is not None:
        backend = with_threshold(backend, threshold)
    _print(evaluate(backend, data, date.today()), as_json)


@nlu_app.command("split-eval")
def split_eval_cmd(
    locale: str = LOCALE,
    as_json: bool = typer.Option(False, "--json", help="print one JSON object instead"),
) -> None:
    """Train on a deterministic 80% of the locale's nlu.yml and evaluate on the other 20%."""
    scripts = _scripts(locale)
    data = _data(scripts.nlu_path)
    report = split_eval(data, scripts.locale, scripts.strategy.nlu.confidence_threshold,
                        date.today())
    _print(report, as_json)


@nlu_app.command()
def bench(
    locale: str = LOCALE,
    runs: int = typer.Option(5, min=1, help="timed passes over the examples"),
) -> None:
    """Time parse() of the built-in backend (target: p95 under 2 ms; reported, never enforced)."""
    scripts = _scripts(locale)
    path = default_test_file(scripts.locale, scripts.nlu_path)
    texts = [ex.text for ex in _data(path).examples]
    backend = builtin_for(scripts.nlu_path, scripts.locale,
                          scripts.strategy.nlu.confidence_threshold)
    r = run_bench(backend, texts, date.today(), runs)
    typer.echo(f"{path}: {len(texts)} examples x {r.runs} runs = {r.parses} parses (after warm-up)")
    typer.echo(f"p50 {r.p50_ms:.3f} ms  p95 {r.p95_ms:.3f} ms  p99 {r.p99_ms:.3f} ms  "
               f"max {r.max_ms:.3f} ms")
    typer.echo(f"{r.per_second:,.0f} parses/s")
    typer.echo(f"target p95 < {r.target_p95_ms:g} ms: {'met' if r.target_met else 'NOT met'}")

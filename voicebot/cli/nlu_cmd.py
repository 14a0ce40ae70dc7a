"""`voicebot nlu ...`: evaluate and time the intent classifier.

The arithmetic lives in dialogue.nlu.evaluate (written text) and voicebot.evaluation (spoken,
`eval --audio`); this module only loads, prints and exits. Reports end with `accuracy: 0.NNN`
(`audio accuracy: 0.NNN` with --audio) as their very last line so scripts can `tail -1`."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dialogue.nlu.evaluate import (EvalReport, bench as run_bench, default_test_file, evaluate,
                                   first_per_intent, split_eval, with_threshold)
from dialogue.nlu.factory import build_nlu, builtin_for
from dialogue.nlu.rasa_format import NluData, NluDataError, load_nlu_file
from dialogue.nlu.result import NluBackend
from dialogue.nlu.retrain import LOCKED_DIR, locked_set
from dialogue.paths import locale_dir
from dialogue.script.checks import load_locale
from dialogue.script.loader import LocaleScripts
from dialogue.problems import ScriptError
from voicebot import config
from voicebot.cli.logging_setup import quiet_logs

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


def _locked(locale: str) -> NluData:
    data = locked_set(locale)
    if not data.examples:
        raise _fail(f"no locked evaluation set for locale {locale!r} in {LOCKED_DIR}")
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
    if report.protected_recall is not None:
        console.print(f"protected intents: recall {report.protected_recall:.3f}, other turns taken "
                      f"for one {report.false_protected or 0.0:.3f}")
    typer.echo(f"accuracy: {report.accuracy:.3f}")


@nlu_app.command("eval")
def eval_cmd(
    file: Path | None = typer.Argument(None, help="Rasa-format NLU file to evaluate on"),
    locale: str = LOCALE,
    locked: bool = typer.Option(False, "--locked",
                                help="evaluate on the locale's locked blind sets "
                                     "(tests/data/nlu/locked/), instead of FILE"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object instead"),
    threshold: float | None = typer.Option(None, min=0.0, max=1.0,
                                    help="confidence threshold (default: the strategy's)"),
    audio: bool = typer.Option(False, "--audio",
                               help="also speak each example with several voices over an 8 kHz "
                                    "mu-law line and classify what the call's VAD and recogniser hear"),
    voices: str | None = typer.Option(None, "--voices",
                                      help="with --audio: comma-separated voice ids (default: the "
                                           "locale's evaluation set)"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="the first N examples per intent"),
    out: Path | None = typer.Option(None, "--out", help="also write the JSON report to this file"),
    jobs: int | None = typer.Option(None, "--jobs", min=1,
                                    help="with --audio: utterances in flight (default: one per core)"),
    no_cache: bool = typer.Option(False, "--no-cache",
                                  help="with --audio: neither read nor write the transcript cache"),
) -> None:
    """Evaluate the locale's configured NLU backend on FILE: per-intent P/R/F1 and confusions;
    with --audio, written against spoken accuracy per voice, intent and protected intent."""
    if not audio and (voices or jobs or no_cache):
        raise _fail("--voices, --jobs and --no-cache need --audio")
    if (file is None) == (not locked):
        raise _fail("give either FILE or --locked")
    data = _locked(locale) if locked else _data(file)
    scripts = _scripts(locale)
    backend = build_nlu(scripts)
    if threshold is not None:
        backend = with_threshold(backend, threshold)
    data = first_per_intent(data, limit)
    if audio:
        voice_ids = [v.strip() for v in voices.split(",") if v.strip()] if voices else None
        _audio_eval(data, scripts, backend, voice_ids, as_json, out, jobs, no_cache)
        return
    report = evaluate(backend, data, date.today())
    if out is not None:
        _write_json(out, report.to_dict())
    _print(report, as_json)


def _write_json(path: Path, payload: dict) -> None:
    try:
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise _fail(f"{path}: cannot write the report ({exc})") from None


def _audio_eval(data: NluData, scripts: LocaleScripts, backend: NluBackend,
                voice_ids: list[str] | None, as_json: bool, out: Path | None, jobs: int | None,
                no_cache: bool) -> None:
    """`eval --audio`: quiet logs, a progress bar on stderr, the report on stdout."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from audio_models.catalogue import ModelNotFoundError, UnknownModelError
    from voicebot.evaluation.audio_eval import run_audio_eval
    from voicebot.evaluation.report import build_report, print_report
    from voicebot.evaluation.speak import check_voices, default_voices
    from voicebot.evaluation.transcript_cache import TranscriptCache

    quiet_logs()
    if jobs is not None:  # as many inference threads as utterances in flight, unless set
        settings = config.current()
        config.use(settings.model_copy(update={"asr_threads": settings.asr_threads or jobs,
                                               "tts_threads": settings.tts_threads or jobs}))
    voice_ids = voice_ids or default_voices(scripts.locale)
    try:
        check_voices(scripts.locale, voice_ids)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=True)
    task = progress.add_task("speaking and hearing", total=len(data.examples) * len(voice_ids))

    def advance(done: int, total: int, voice: str) -> None:
        progress.update(task, completed=done, description=f"speaking and hearing ({voice})")

    try:
        with progress:
            run = asyncio.run(run_audio_eval(
                data.examples, backend, scripts.locale, voice_ids, scripts.strategy.asr_hints,
                date.today(), cache=TranscriptCache(enabled=not no_cache), jobs=jobs,
                progress=advance))
    except (ModelNotFoundError, UnknownModelError) as exc:
        raise _fail(f"no speech recogniser for locale {scripts.locale!r}: {exc}") from None
    report = build_report(run)
    if out is not None:
        _write_json(out, report.to_dict())
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    wide = None if sys.stdout.isatty() else 120  # piped: keep the tables' columns whole
    print_report(report, Console(highlight=False, soft_wrap=True, width=wide))
    typer.echo(f"audio accuracy: {report.audio_accuracy:.3f}")


@nlu_app.command("split-eval")
def split_eval_cmd(
    locale: str = LOCALE,
    as_json: bool = typer.Option(False, "--json", help="print one JSON object instead"),
) -> None:
    """Train on a deterministic 80% of the locale's nlu.yml and evaluate on the other 20%."""
    scripts = _scripts(locale)
    data = _data(scripts.nlu_path)
    report = split_eval(data, scripts.locale, scripts.strategy.nlu.confidence_threshold,
                        date.today(), embedding_weight=scripts.strategy.nlu.embedding_weight)
    _print(report, as_json)


@nlu_app.command()
def bench(
    locale: str = LOCALE,
    runs: int = typer.Option(5, min=1, help="timed passes over the examples"),
) -> None:
    """Time parse() of the built-in backend (target: p95 under 2 ms on n-grams alone, 25 ms
    with sentence embeddings; reported, never enforced)."""
    scripts = _scripts(locale)
    path = default_test_file(scripts.locale, scripts.nlu_path)
    texts = [ex.text for ex in _data(path).examples]
    cfg = scripts.strategy.nlu
    backend = builtin_for(scripts.nlu_paths, scripts.locale, cfg.confidence_threshold,
                          cfg.protected_floor, cfg.embedding_weight)
    r = run_bench(backend, texts, date.today(), runs,
                  target_p95_ms=25.0 if cfg.embedding_weight > 0 else 2.0)
    typer.echo(f"{path}: {len(texts)} examples x {r.runs} runs = {r.parses} parses (after warm-up)")
    typer.echo(f"p50 {r.p50_ms:.3f} ms  p95 {r.p95_ms:.3f} ms  p99 {r.p99_ms:.3f} ms  "
               f"max {r.max_ms:.3f} ms")
    typer.echo(f"{r.per_second:,.0f} parses/s")
    typer.echo(f"target p95 < {r.target_p95_ms:g} ms: {'met' if r.target_met else 'NOT met'}")

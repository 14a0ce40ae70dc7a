"""`voicebot nlu augment` and `voicebot nlu train --with-corrections`: new training data for
the classifier, each judged on the locked blind sets before it is kept.

Both end with the same comparison (`before -> after` on the locked sets: accuracy, protected
recall, other turns taken for a protected intent), so a designer sees the gain or the loss of
what they are about to add.  The data lands in `nlu_*.yml` beside nlu.yml; the engine trains on
every such file (`LocaleScripts.nlu_paths`)."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dialogue.nlu.classifier import BuiltinNlu, normalise
from dialogue.nlu.evaluate import EvalReport, evaluate
from dialogue.nlu.rasa_format import NluData, NluDataError, load_nlu_file, load_nlu_files, load_nlu_text
from dialogue.nlu.retrain import CORRECTIONS_FILE, locked_set, merge_corrections, write_corrections
from dialogue.script.loader import LocaleScripts
from voicebot.cli.nlu_cmd import LOCALE, _fail, _scripts, nlu_app, quiet_logs

CHECK_DAY = date(2026, 11, 23)  # entities do not count in intent accuracy; any fixed day will do


def _model(scripts: LocaleScripts, paths: list[Path], extra: NluData | None = None) -> BuiltinNlu:
    data = load_nlu_files(paths)
    if extra is not None:
        data.examples += extra.examples
    cfg = scripts.strategy.nlu
    return BuiltinNlu.from_data(data, scripts.locale, cfg.confidence_threshold, cfg.protected_floor,
                                cfg.embedding_weight)


def _compare(locale: str, before: BuiltinNlu, after: BuiltinNlu) -> tuple[EvalReport, EvalReport]:
    locked = locked_set(locale)
    if not locked.examples:
        raise _fail(f"no locked evaluation set for {locale!r}: nothing to judge the change by")
    a, b = evaluate(before, locked, CHECK_DAY), evaluate(after, locked, CHECK_DAY)
    table = Table(title=f"locked sets, {a.total} turns (text)")
    for name in ("figure", "before", "after"):
        table.add_column(name, justify="left" if name == "figure" else "right")
    table.add_row("accuracy", f"{a.accuracy:.3f}", f"{b.accuracy:.3f}")
    table.add_row("protected recall", f"{a.protected_recall or 0:.3f}", f"{b.protected_recall or 0:.3f}")
    table.add_row("other turns taken for protected", f"{a.false_protected or 0:.3f}",
                  f"{b.false_protected or 0:.3f}")
    recall_a = {s.intent: s.recall for s in a.per_intent}
    for s in b.per_intent:
        if abs(s.recall - recall_a.get(s.intent, 0.0)) >= 0.005:
            table.add_row(f"  recall {s.intent}", f"{recall_a.get(s.intent, 0.0):.3f}", f"{s.recall:.3f}")
    Console(highlight=False).print(table)
    return a, b


def _incoming(source: str, locale: str) -> NluData:
    """Corrections from an exported Rasa file, or straight from the records database."""
    if "://" not in source:
        try:
            return load_nlu_file(Path(source))
        except NluDataError as exc:
            raise _fail(str(exc)) from None
    from voicebot.records.corrections import export_corrections
    from voicebot.records.store import RecordStore

    store = RecordStore(source, create=False)
    try:
        with store.session() as db:
            return load_nlu_text(export_corrections(db, locale), "corrections")
    finally:
        store.close()


@nlu_app.command("train")
def train_cmd(
    locale: str = LOCALE,
    with_corrections: str = typer.Option(
        ..., "--with-corrections",
        help="supervisors' corrections: the console's corrections.yml, or the records database "
             "URL (e.g. sqlite:///var/records.db)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the effect, write nothing"),
) -> None:
    """Merge supervisors' corrections into nlu_corrections.yml and show the effect on the
    locked sets; a correction repeating a locked turn is dropped."""
    scripts = _scripts(locale)
    incoming = _incoming(with_corrections, scripts.locale)
    target = scripts.root / CORRECTIONS_FILE
    existing = load_nlu_file(target) if target.is_file() else NluData()
    merge = merge_corrections(existing, incoming, locked_set(scripts.locale))
    others = [p for p in scripts.nlu_paths if p != target]
    _compare(scripts.locale, _model(scripts, list(scripts.nlu_paths)),
             _model(scripts, others, merge.data))
    typer.echo(f"{merge.added} new, {merge.relabelled} relabelled, "
               f"{len(merge.dropped_locked)} dropped (locked turns), "
               f"{len(merge.dropped_unknown)} dropped (unknown intents)")
    if dry_run:
        typer.echo("dry run: nothing written")
        return
    typer.echo(f"wrote {write_corrections(scripts.root, merge.data)} "
               f"({len(merge.data.examples)} corrections in all)")


@nlu_app.command("augment")
def augment_cmd(
    locale: str = LOCALE,
    per_intent: int = typer.Option(30, "--per-intent", min=1, help="training examples spoken per intent"),
    voices: str = typer.Option("en-joe,en-espeak-f3", "--voices", help="comma-separated voice ids"),
    jobs: int | None = typer.Option(None, "--jobs", min=1, help="utterances in flight"),
    add: bool = typer.Option(False, "--add", help="keep the transcripts already in nlu_asr.yml and add "
                                                  "these voices' (instead of replacing the file)"),
) -> None:
    """Speak a sample of the training data over the phone line, keep what the recogniser hears
    differently (nlu_asr.yml), and show the effect on the locked sets."""
    from audio_models.catalogue import ModelNotFoundError, UnknownModelError
    from voicebot.evaluation.audio_eval import run_audio_eval
    from voicebot.evaluation.augment import (ASR_FILE, asr_file_voices, misheard_examples, spread_sample,
                                             write_asr_file)
    from voicebot.evaluation.text_error import unit_for
    from voicebot.evaluation.transcript_cache import TranscriptCache

    quiet_logs()
    scripts = _scripts(locale)
    voice_ids = [v.strip() for v in voices.split(",") if v.strip()]
    target = scripts.root / ASR_FILE
    others = [p for p in scripts.nlu_paths if p != target]
    kept = load_nlu_file(target).examples if add and target.exists() else []
    before = _model(scripts, others, NluData(list(kept)))
    sample = spread_sample(load_nlu_file(scripts.nlu_path), per_intent)
    typer.echo(f"speaking {len(sample)} training examples x {len(voice_ids)} voices", err=True)
    try:
        run = asyncio.run(run_audio_eval(sample, before, scripts.locale, voice_ids,
                                         scripts.strategy.asr_hints, CHECK_DAY,
                                         cache=TranscriptCache(), jobs=jobs))
    except (ModelNotFoundError, UnknownModelError, ValueError) as exc:
        raise _fail(str(exc)) from None
    known = {normalise(e.text) for e in [*load_nlu_files(others).examples, *kept]}
    forbidden = {normalise(e.text) for e in locked_set(scripts.locale).examples}
    added = misheard_examples(run.spoken, known, forbidden, unit_for(scripts.locale))
    _compare(scripts.locale, before, _model(scripts, others, NluData([*kept, *added])))
    earlier = asr_file_voices(target) if kept else []
    path = write_asr_file(scripts.root, [*kept, *added], list(dict.fromkeys([*earlier, *voice_ids])))
    typer.echo(f"wrote {path}: {len(added)} transcripts that differ from their text "
               f"({len(run.spoken)} heard, {run.from_cache} from the cache)")

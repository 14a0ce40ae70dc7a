"""`voicebot simulate`: a complete collection call with audio, no phone and no network."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from dialogue.accounts import AccountError, load_account
from dialogue.problems import ScriptError
from dialogue.session import CallSetupError, TurnRecord
from voicebot.cli.turn_view import show_turn

FAST_SPEED = 4.0


def simulate(
    account: str = typer.Option(..., help="accounts file (JSON or CSV), FILE:ID to pick one"),
    debtor: str = typer.Option(..., help='the debtor\'s lines "line|line|..."; <silence>, <hangup>, '
                                         '">1.5 line" barges in 1.5 s into the bot\'s speech'),
    locale: str = typer.Option(None, help="script locale (default: the account's)"),
    stage: str = typer.Option(None, help="stage script (default: from days overdue)"),
    attempt: int = typer.Option(1, min=1, help="call attempt (redials alternate the bot's voice)"),
    today: str = typer.Option(None, help="the call's date, YYYY-MM-DD"),
    fast: bool = typer.Option(False, "--fast", help=f"run {FAST_SPEED:g}x faster than real time"),
    speed: float = typer.Option(None, min=0.25, help="explicit speed factor (overrides --fast)"),
    sample_rate: int = typer.Option(8000, help="8000 (telephony) or 16000"),
    records: Path = typer.Option(Path("var/calls"), help="where the call record and WAV go"),
    as_json: bool = typer.Option(False, "--json", help="print the call summary as JSON"),
    amd: bool = typer.Option(False, "--amd", help="detect an answering machine first (the callee speaks "
                                                  'first: "@0.4 hello?|..." or "<machine>")'),
    answered_by: str = typer.Option(None, help="a carrier's verdict (Twilio AnsweredBy), e.g. machine_end_beep"),
) -> None:
    """Simulate a call: synthesised debtor audio through VAD, ASR, dialogue and TTS."""
    from voicebot.audio.amd import parse_answered_by
    from voicebot.simulate import Simulation, parse_debtor

    console = Console(highlight=False, soft_wrap=True)
    try:
        the_account = load_account(account)
        if locale:
            the_account = the_account.model_copy(update={"locale": locale})
        sim = Simulation(the_account, parse_debtor(debtor), stage=stage, attempt=attempt,
                         today=date.fromisoformat(today) if today else None,
                         speed=speed or (FAST_SPEED if fast else 1.0), sample_rate=sample_rate,
                         records_dir=records, amd=amd, answered_by=parse_answered_by(answered_by))
    except (AccountError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    def on_turn(turn: TurnRecord) -> None:
        if not as_json:
            show_turn(console, turn, nodes=False)

    def show_timing(_index: int, timings: dict[str, float]) -> None:
        if not as_json:
            console.print(f"       [dim]turn latency {timings['turn_latency_ms']:.0f} ms "
                          f"(processing {timings['processing_ms']:.0f} ms after end of turn)[/]")

    sim.on_turn, sim.on_timing = on_turn, show_timing
    try:
        result = asyncio.run(sim.run())
    except (CallSetupError, ScriptError, KeyError, FileNotFoundError, RuntimeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from None
    summary = result.summary
    if as_json:
        print(json.dumps({k: v for k, v in summary.items() if k != "turns"}, ensure_ascii=False, default=str))
        return
    for amd_event in (e for e in summary.get("event_log", []) if e["kind"] == "amd"):
        console.print(f"[bold]answered by[/] {amd_event['verdict']} ({amd_event['reason']}, decided "
                      f"{amd_event['decided_at_s']:.2f} s after answer)")
    lat, proc = result.latency, result.processing
    fmt = lambda v: "n/a" if v is None else f"{v:.0f} ms"  # noqa: E731
    console.print(f"[bold]outcome[/] {summary['outcome']}  [bold]score[/] {summary['score']}  "
                  f"[bold]tags[/] {', '.join(summary['tags'])}")
    console.print(f"[bold]turn latency[/] p50 {fmt(lat['p50'])} p95 {fmt(lat['p95'])}  "
                  f"[bold]processing[/] p50 {fmt(proc['p50'])} p95 {fmt(proc['p95'])}  "
                  f"(bot voice {summary['voice']}, debtor voice {result.debtor_voice})")
    console.print(f"[bold]record[/] {records / (summary['call_id'] + '.json')}  "
                  f"[bold]recording[/] {summary['recording']}")

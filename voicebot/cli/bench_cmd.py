"""`voicebot bench`: concurrent simulated calls against the real server; figures, not verdicts."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import typer


def _levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected numbers like 10,20,40 (got {text!r})") from None
    if not levels or any(n < 1 for n in levels):
        raise typer.BadParameter(f"expected positive numbers of calls (got {text!r})")
    return levels


def bench(
    calls: str = typer.Option("10", help="concurrent calls; several levels as 10,20,40"),
    duration: float = typer.Option(60.0, min=1.0, help="seconds each level keeps its calls going "
                                                       "(calls in progress then finish)"),
    stagger: float = typer.Option(1.0, min=0.0, help="seconds between successive call starts"),
    out: Path = typer.Option(Path("var/bench"), help="JSON, PNG, server logs and call records go here"),
    workers: int = typer.Option(1, min=1, help="server worker processes (calls spread round-robin)"),
    profile: bool = typer.Option(False, help="sample the server with py-spy over each level's duration "
                                             "(pip install py-spy); CPU shares go in the JSON"),
    cold_cache: bool = typer.Option(False, help="no prompt-cache folder: each level's server renders its "
                                                "script text anew (a fresh deployment's first calls); "
                                                "by default OUT/prompt-cache is kept, filled by one "
                                                "unmeasured call per scenario on a first run"),
) -> None:
    """Start the server, dial N simulated Twilio carriers into it, and report what they measured."""
    from rich.console import Console

    from voicebot.bench import report
    from voicebot.bench.run import BenchConfig, run_bench

    console = Console()
    if profile:
        from voicebot.bench.profile import py_spy

        if py_spy() is None:
            typer.echo("error: --profile needs py-spy (pip install py-spy)", err=True)
            raise typer.Exit(2)
    try:
        config = BenchConfig(_levels(calls), duration, stagger, out, workers, profile=profile,
                             cold_cache=cold_cache)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    def progress(level: dict) -> None:
        console.print(f"{level['calls']} calls: {level['calls_placed']} placed, {level['calls_failed']} failed, "
                      f"processing p95 {level['processing_ms']['p95'] or 0:.0f} ms")

    # A terminated bench must still stop its server processes (run_level's finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    console.print(f"bench: levels {config.calls}, {duration:g} s each, stagger {stagger:g} s, "
                  f"{workers} server worker(s); rendering the debtors' audio first")
    try:
        levels = asyncio.run(run_bench(config, on_level=progress))
    except RuntimeError as exc:  # the server did not start (its log is named in the message)
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    report.print_table(levels, console)
    for level in levels:
        for index, spied in enumerate(level.get("profile", [])):
            console.print(f"profile, {level['calls']} calls, worker {index}: {spied['buckets_percent']}")
    command = ["voicebot", "bench", "--calls", calls, "--duration", f"{duration:g}", "--stagger", f"{stagger:g}",
               "--out", str(out), "--workers", str(workers)] + (["--profile"] if profile else []) \
        + (["--cold-cache"] if cold_cache else [])
    path = report.write_json(out / "bench.json", levels, command)
    console.print(f"JSON: {path}")
    if len(levels) > 1:
        console.print(f"plot: {report.write_plot(out / 'latency.png', levels)}")
    if any(level["calls_failed"] for level in levels):
        raise typer.Exit(1)

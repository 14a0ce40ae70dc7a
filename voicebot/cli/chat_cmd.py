"""`voicebot chat`: a text call against a script, for designers trying a script without a phone.

Interactive on a terminal; with stdin piped (or --json) it reads one debtor line per input line
and prints one JSON object per turn, then one with the outcome, so scripts and tests can drive
it.  `--debtor "a|b|c"` plays a scripted debtor."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from datetime import date

import typer
from rich.console import Console

from dialogue.accounts import AccountError, load_account
from dialogue.engine import engine_for
from dialogue.problems import ScriptError
from dialogue.session import CallSession, CallSetupError, TurnRecord
from voicebot.cli.turn_view import show_turn

SILENCE = "<silence>"


def _debtor_lines(debtor: str | None, interactive: bool, console: Console) -> Iterator[str]:
    if debtor is not None:
        yield from (part.strip() for part in debtor.split("|"))
        return
    if interactive:
        while True:
            try:
                yield console.input("[bold cyan]you>[/] ")
            except EOFError:
                return
    else:
        for line in sys.stdin:
            yield line.rstrip("\n")


def run_chat(session: CallSession, lines: Iterable[str], emit_json: bool, console: Console) -> dict:
    def emit(turn: TurnRecord) -> None:
        if emit_json:
            print(json.dumps(turn.to_dict(), ensure_ascii=False), flush=True)
        else:
            show_turn(console, turn)

    emit(session.open())
    for line in lines:
        if session.ended:
            break
        text = line.strip()
        if not text:
            continue
        if text == SILENCE:
            emit(session.silence())
        elif text.startswith("#") and len(text) == 2:
            emit(session.dtmf(text[1]))  # "#0" presses 0 on the keypad
        else:
            emit(session.hear(text))
    if not session.ended:
        session.hangup()
    result = session.result().to_dict()
    summary = {"call_id": session.call_id, "stage": session.stage, "voice": session.voice, **result}
    if emit_json:
        print(json.dumps({"result": summary}, ensure_ascii=False), flush=True)
    else:
        console.print(f"[bold]outcome[/] {summary['outcome']}  [bold]score[/] {summary['score']}  "
                      f"[bold]tags[/] {', '.join(summary['tags'])}")
        if summary["details"]:
            console.print(f"[bold]details[/] {summary['details']}")
    return summary


def chat(
    account: str = typer.Option(..., help="accounts file (JSON or CSV), FILE:ID to pick one"),
    locale: str = typer.Option("en", help="script locale, a folder under scripts/"),
    stage: str = typer.Option(None, help="stage script to use (default: from days overdue)"),
    debtor: str = typer.Option(None, help='scripted debtor lines, "line|line|..."; <silence> and #D (keypad) allowed'),
    attempt: int = typer.Option(1, min=1, help="call attempt number (redials rotate voices and wording)"),
    today: str = typer.Option(None, help="the call's date, YYYY-MM-DD (default: today)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON line per turn"),
    inbound: bool = typer.Option(False, "--inbound", help="the debtor calls in (a callback): the "
                                 "stage's inbound opening, identity by a knowledge check"),
) -> None:
    """Run a text call against a stage script."""
    console = Console(highlight=False, soft_wrap=True)
    interactive = sys.stdin.isatty() and debtor is None
    emit_json = as_json or (not interactive and debtor is None)
    try:
        the_account = load_account(account)
        call_date = date.fromisoformat(today) if today else None
        engine = engine_for(locale)
        session = engine.start_call(the_account, stage=stage, attempt=attempt, today=call_date,
                                    inbound=inbound)
    except (AccountError, CallSetupError, ScriptError, FileNotFoundError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from None
    run_chat(session, _debtor_lines(debtor, interactive, console), emit_json, console)

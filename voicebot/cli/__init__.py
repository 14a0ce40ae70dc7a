"""The `voicebot` command: one sub-app per concern, each in its own module."""

from __future__ import annotations

import typer

from voicebot import config
from voicebot.cli.bench_cmd import bench
from voicebot.cli.campaign_cmd import campaign_app
from voicebot.cli.chat_cmd import chat
from voicebot.cli.compliance_cmd import compliance_app
from voicebot.cli.logging_setup import LogFormat, configure_logging
from voicebot.cli.nlu_cmd import nlu_app
from voicebot.cli import nlu_train_cmd  # noqa: F401  (registers nlu train / augment)
from voicebot.cli.payments_cmd import payments_app
from voicebot.cli.records_cmd import records_app
from voicebot.cli import records_migrate_cmd  # noqa: F401  (registers records migrate)
from voicebot.cli.scripts_cmd import scripts_app
from voicebot.cli.serve_cmd import serve
from voicebot.cli.simulate_cmd import simulate
from voicebot.cli.users_cmd import users_app

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Conversational voice bot engine for debt-collection calls.")


@app.callback()
def _start(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logs (pipecat's frame plumbing too)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="warnings and errors only"),
    log_format: LogFormat = typer.Option(LogFormat.text, "--log-format", help="json: one JSON object per line"),
) -> None:
    """Conversational voice bot engine for debt-collection calls."""
    try:  # every VOICEBOT_* knob, read once here; a bad one stops any command, naming it
        settings = config.EngineSettings.from_env()
    except config.SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    config.use(settings)
    ctx.call_on_close(lambda: config.use(None))  # a command run in-process (tests) leaves none behind
    configure_logging(verbose, quiet, log_format)


app.add_typer(scripts_app, name="scripts")
app.add_typer(nlu_app, name="nlu")
app.add_typer(campaign_app, name="campaign")
app.add_typer(users_app, name="users")
app.add_typer(records_app, name="records")
app.add_typer(payments_app, name="payments")
app.add_typer(compliance_app, name="compliance")
app.command()(chat)
app.command()(simulate)
app.command()(serve)
app.command()(bench)


def main() -> None:
    app()

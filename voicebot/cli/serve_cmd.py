"""`voicebot serve`: the media-stream server carriers connect calls to (FastAPI + uvicorn)."""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path
from urllib.parse import unquote_plus

import typer

WS_MAX_SIZE_MIN = 1024 * 1024  # uvicorn's own limit (close 1009) stays well above the server's
QUERY_PAIR = re.compile(r"([?&])([^=&\s\"]+)=([^&\s\"]*)")


def redact_query_tokens(text: str) -> str:
    """`text` with the value of every `token` query parameter replaced by ***, however its
    name is spelt: `?%74oken=` is `?token=` to the server, so it is to the redaction too."""
    def one(match: re.Match[str]) -> str:
        sep, key, _value = match.groups()
        return f"{sep}{key}=***" if unquote_plus(key).strip().lower() == "token" else match.group(0)
    return QUERY_PAIR.sub(one, text)


def serve(
    accounts: Path = typer.Option(..., help="accounts file (JSON or CSV) the server may call about",
                                  envvar="VOICEBOT_ACCOUNTS_FILE"),
    host: str = typer.Option("127.0.0.1", help="interface to listen on (0.0.0.0 for all)"),
    port: int = typer.Option(8080, help="TCP port"),
    token: list[str] = typer.Option(None, help="accepted stream token (repeatable); none given and no "
                                               "Twilio auth token: one is generated and printed",
                                    envvar="VOICEBOT_TOKENS"),
    records: Path = typer.Option(Path("var/calls"), help="where call records and WAVs go"),
    twilio_auth_token: str = typer.Option(None, help="check X-Twilio-Signature on /media/twilio",
                                          envvar="TWILIO_AUTH_TOKEN"),
    twilio_account_sid: str = typer.Option(None, help="with --twilio-from: carry out transfers, "
                                                      "hang-ups and SMS through Twilio's REST API",
                                           envvar="TWILIO_ACCOUNT_SID"),
    twilio_from: str = typer.Option(None, help="Twilio number calls and texts come from",
                                    envvar="TWILIO_FROM_NUMBER"),
    public_url: str = typer.Option(None, help="wss://host Twilio connects to, if a proxy changes it"),
    carrier_secret: list[str] = typer.Option(None, help="NAME=SECRET (repeatable): a carrier's signing secret, "
                                                        "e.g. plivo=<auth token>, vonage=<signature secret> "
                                                        "[env VOICEBOT_CARRIER_SECRETS, JSON]"),
    audiosocket_port: int = typer.Option(None, help="also take Asterisk AudioSocket calls (TCP) on this port",
                                         envvar="VOICEBOT_AUDIOSOCKET_PORT"),
    max_frame_bytes: int = typer.Option(64 * 1024, help="larger messages close the stream (4413)"),
    warm_up: bool = typer.Option(True, help="load and exercise the models before taking calls"),
    handoff_timeout: float = typer.Option(20.0, help="seconds a transferred call holds for an agent desk "
                                                     "to claim it on the live bus (REDIS_URL, else "
                                                     "in-process); 0: straight to the queue's line"),
    database: str = typer.Option(None, help="SQLAlchemy URL of the call records the console reads "
                                            "(postgresql://...); default RECORDS/records.db",
                                 envvar="VOICEBOT_DATABASE_URL"),
    prompt_cache: str = typer.Option("var/prompt-cache", help="folder keeping the script's fixed "
                                                             "text as rendered audio across restarts "
                                                             "and workers; '' keeps it in memory only",
                                     envvar="VOICEBOT_PROMPT_CACHE_DIR"),
    opt_out_journal: Path = typer.Option(None, help="opt-out journal checked at every call start and "
                                                    "written when a debtor opts out (default: "
                                                    "RECORDS/opt-outs.jsonl, as `voicebot campaign run`)",
                                         envvar="VOICEBOT_OPT_OUT_JOURNAL"),
    opt_out_redis: str = typer.Option(None, help="the campaign store's Redis: its opt-outs are refused "
                                                 "too, and opt-outs heard here are added to it",
                                      envvar="REDIS_URL"),
    opt_out_prefix: str = typer.Option(None, help="the campaign store's Redis key prefix "
                                       "(default: VOICEBOT_OPT_OUT_PREFIX, else voicebot)"),
    max_calls: int = typer.Option(None, help="calls at once; the next start is refused with 1013 "
                                             "[default: 100]", envvar="VOICEBOT_MAX_CALLS"),
    start_timeout: float = typer.Option(None, help="seconds a socket has to send its start, else it is "
                                                   "closed [default: 3]", envvar="VOICEBOT_START_TIMEOUT_S"),
    media_timeout: float = typer.Option(None, help="seconds without media before a call is ended as a "
                                                   "dropped line [default: 10]",
                                        envvar="VOICEBOT_MEDIA_TIMEOUT_S"),
    max_opening_streams: int = typer.Option(None, help="sockets not yet started at once, in all "
                                                       "(more: 1013) [default: 128]",
                                            envvar="VOICEBOT_MAX_OPENING_STREAMS"),
    max_opening_per_address: int = typer.Option(None, help="the same from one address (more: 4429) "
                                                           "[default: 16]",
                                                envvar="VOICEBOT_MAX_OPENING_STREAMS_PER_ADDRESS"),
    retention_days: int = typer.Option(None, min=1, help="calls are purged this many days after they end "
                                                          "(rows, files, decided handoff packets) [default: 365]",
                                       envvar="VOICEBOT_RETENTION_DAYS"),
    retention_purge_every: float = typer.Option(None, min=0, help="hours between the server's purges; 0: "
                                                                  "never (purge from a scheduler) [default: 24]",
                                                envvar="VOICEBOT_RETENTION_PURGE_EVERY_H"),
    metrics_token: str = typer.Option(None, help="/metrics answers `Authorization: Bearer` with this "
                                                 "token; none: /metrics is off",
                                      envvar="VOICEBOT_METRICS_TOKEN"),
    drain_timeout: float = typer.Option(None, min=0, help="on SIGTERM, seconds live calls have to end while "
                                                          "new streams are refused (1001); then the rest "
                                                          "are cut [default: 300]",
                                        envvar="VOICEBOT_DRAIN_TIMEOUT_S"),
    log_level: str = typer.Option("INFO", help="uvicorn's own log level; the engine's is `voicebot -v serve` "
                                               "(every pipeline frame) or `-q`"),
) -> None:
    """Serve calls over WebSocket, one route per carrier (/media/twilio, /media/telnyx, /media/plivo,
    /media/vonage, /media/asterisk, /media/pcm), and Asterisk AudioSocket over TCP if asked."""
    import uvicorn

    from audio_models.prompt_cache import PromptCache, use_default_prompt_cache
    from dialogue.accounts import AccountError
    from voicebot.server import ServerSettings, create_app
    from voicebot.server.drain import RECORD_GRACE_S, DrainingServer
    from voicebot.server.retention_task import purge_while_serving

    use_default_prompt_cache(PromptCache(directory=prompt_cache or None))  # what TTS services share
    tokens = [t for t in token or [] if t]
    named_secrets = dict(pair.partition("=")[::2] for pair in carrier_secret or [])
    if not tokens and not twilio_auth_token:
        tokens = [secrets.token_urlsafe(24)]
        typer.echo(f"no --token given; this run accepts streams with token {tokens[0]}")
    try:  # flags win; what they leave unset comes from VOICEBOT_* (e.g. VOICEBOT_SIGN_IN_MAX_FAILURES)
        settings = ServerSettings.from_env(
            accounts_file=accounts, records_dir=records, tokens=tokens, twilio_auth_token=twilio_auth_token,
            public_url=public_url, max_frame_bytes=max_frame_bytes, warm_up=warm_up,
            handoff_timeout_s=handoff_timeout, database_url=database, opt_out_journal=opt_out_journal,
            opt_out_redis_url=opt_out_redis, opt_out_prefix=opt_out_prefix, max_calls=max_calls,
            start_timeout_s=start_timeout, media_timeout_s=media_timeout,
            max_opening_streams=max_opening_streams,
            max_opening_streams_per_address=max_opening_per_address, retention_days=retention_days,
            retention_purge_every_h=retention_purge_every, metrics_token=metrics_token,
            carrier_secrets=named_secrets or None, audiosocket_port=audiosocket_port,
            audiosocket_host=host if audiosocket_port else None,
            drain_timeout_s=drain_timeout)
        # Each carrier's calls are transferred, hung up and texted by that carrier's own REST provider
        # (a call id means nothing to another carrier); carriers without one: the local provider.
        from telephony.carriers.providers import ServerAddress, check_signing_secrets, providers_from_env

        base = (public_url or f"ws://{host}:{port}").rstrip("/")
        providers = providers_from_env(os.environ, ServerAddress(base, tokens[0] if tokens else None))
        check_signing_secrets(providers, settings.carrier_secrets)
        if twilio_account_sid and twilio_auth_token and twilio_from:
            from telephony.carriers.twilio.rest import TwilioRestProvider
            from telephony.carriers.twilio.status import STATUS_PATH, http_public_url

            providers["twilio"] = TwilioRestProvider(twilio_account_sid, twilio_auth_token, from_number=twilio_from,
                                                     stream_url=base + "/media/twilio",
                                                     status_callback=http_public_url(base) + STATUS_PATH)
        app = create_app(settings, providers=providers)
        purge_while_serving(app, settings)  # calls past the retention period go once a day
    except (AccountError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"media streams on ws://{host}:{port}/media/<carrier> (twilio, telnyx, plivo, vonage, "
               f"asterisk, pcm), records in {records}"
               + ("; loading models before the first call" if warm_up else ""))
    typer.echo(f"console on http://{host}:{port}/console (first user: voicebot users add NAME)")
    typer.echo(f"metrics on http://{host}:{port}/metrics (Authorization: Bearer the metrics token)"
               if settings.metrics_token else "/metrics is off: no --metrics-token (VOICEBOT_METRICS_TOKEN)")
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level.lower(), access_log=False,
                            ws_max_size=max(WS_MAX_SIZE_MIN, 4 * max_frame_bytes),
                            timeout_graceful_shutdown=RECORD_GRACE_S)
    logging.getLogger("uvicorn.error").addFilter(_redact_tokens)  # after Config set logging up
    DrainingServer(config, app.state.drain).run()  # SIGTERM: refuse new streams, let calls end


def _redact_tokens(record: logging.LogRecord) -> bool:
    """uvicorn logs each WebSocket's path with its query string: keep ?token= values out of logs."""
    if isinstance(record.args, tuple):
        record.args = tuple(redact_query_tokens(a) if isinstance(a, str) else a for a in record.args)
    if isinstance(record.msg, str):
        record.msg = redact_query_tokens(record.msg)
    return True

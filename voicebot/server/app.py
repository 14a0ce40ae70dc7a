"""The media-stream server: carriers connect a call's audio over WebSocket, one call per socket.

    /media/twilio   Twilio Media Streams (JSON events, base64 mu-law 8 kHz)
    /media/pcm      raw 16-bit PCM (FreeSWITCH mod_audio_stream / Asterisk chan_websocket style)
    /health         liveness, calls in progress, models loaded
    /ready          whether to send it calls: records disk writable with room, records
                    database and bus reachable (503 naming what fails)

A stream is accepted, authenticated (token or Twilio signature), its start read and checked,
and only then given a pipeline.  Every refusal is a WebSocket close with a code and a reason
(voicebot.server.errors); nothing one stream does can reach another: each runs in its own
task with its own pipeline, and the models they share are read-only.  How many streams may be
opening at once (in all, and per address) and how many calls may run is `admission`'s to say.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.websockets import WebSocketState

from audio_models import loader
from dialogue.session import CallSetupError
from telephony.bus.base import Bus
from telephony.bus.factory import bus_from_env
from telephony.providers.base import Provider
from voicebot.console.audit import audit
from voicebot.console.mount import serve_console
from voicebot.providers.local import LocalProvider
from voicebot.server.accounts import AccountBook
from voicebot.server.admission import Admission, Refused
from voicebot.server.auth import authenticate, require_start_token
from voicebot.server.call import StreamCall
from voicebot.server.errors import (
    BAD_START, SERVER_ERROR, UNAUTHORIZED, UNKNOWN_ACCOUNT, StreamError, clip_reason,
)
from voicebot.server.opt_out_guard import server_opt_outs
from voicebot.server.pcm_serializer import PcmFrameSerializer
from voicebot.server.readiness import readiness
from voicebot.server.settings import ServerSettings
from voicebot.server.start import PeerGone, StreamStart, read_pcm_start, read_twilio_start
from voicebot.server.twilio_serializer import END_MARK, StrictTwilioSerializer
from voicebot.server.warmup import warm_up

PCM_AUTH_REQUIRED = "authentication required: a token (?token= or Authorization: Bearer)"
TWILIO_AUTH_REQUIRED = ("authentication required: X-Twilio-Signature or a token (?token=, "
                        "Authorization: Bearer, or a 'token' stream parameter)")


def create_app(settings: ServerSettings, provider: Provider | None = None,
               on_call_end: list[Callable[[dict[str, Any]], Any]] | None = None,
               bus: Bus | None = None) -> FastAPI:
    """The ASGI app. `provider` carries out transfers, hang-ups and SMS the dialogue decides on;
    by default a LocalProvider, which only logs and records them.  `on_call_end` functions (sync
    or async; also `app.state.on_call_end`) get each finished call's summary, whose
    `carrier_call_id` is the provider's call id: how a dialer in the same process learns the
    outcome of a call it placed.  `bus` (default: Redis when REDIS_URL is set, else in-process)
    carries the live call feed and the agent queue."""
    accounts = AccountBook(settings.accounts_file)
    live_bus = bus if bus is not None else bus_from_env()
    carrier = provider if provider is not None else LocalProvider()
    listeners = on_call_end if on_call_end is not None else []
    opt_outs = server_opt_outs(settings)  # journal (and the campaigns' Redis set): every start asks

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if settings.warm_up:  # before the first call is accepted, off the event loop
            await asyncio.to_thread(warm_up, accounts.locales(), settings.sample_rate)
        yield

    # No /docs, /redoc or /openapi.json: they would describe every console route to anyone.
    app = FastAPI(title="voicebot media-stream server", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.provider, app.state.accounts = settings, carrier, accounts
    app.state.on_call_end = listeners
    app.state.bus = live_bus
    app.state.opt_outs = opt_outs
    records = serve_console(app, settings)  # records store (app.state.records), web console at /console

    def _audit_refused_call(account_id: str, reason: str) -> None:
        audit(records, "server", "call_refused", account_id, reason=reason)

    admission = Admission(settings.max_opening_streams, settings.max_opening_streams_per_address,
                          settings.max_calls, on_call_refused=_audit_refused_call)
    app.state.admission = admission

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "calls_in_progress": admission.calls, "streams": admission.snapshot(),
                "models": loader.loaded()}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        ok, checks = await readiness(settings.records_dir, settings.ready_min_free_mb, records, live_bus)
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @app.websocket("/media/twilio")
    async def twilio_stream(websocket: WebSocket) -> None:
        await _serve(websocket, twilio=True)

    @app.websocket("/media/pcm")
    async def pcm_stream(websocket: WebSocket) -> None:
        await _serve(websocket, twilio=False)

    async def _serve(websocket: WebSocket, *, twilio: bool) -> None:
        await websocket.accept()  # accepted first, so a refusal can carry a close code and reason
        address = websocket.client.host if websocket.client else "unknown"
        try:
            authed = authenticate(websocket, settings, twilio=twilio)  # a wrong credential: 4401 now
            if not authed and not twilio:
                raise StreamError(UNAUTHORIZED, PCM_AUTH_REQUIRED)
            # Only a stream that has proved nothing yet (Twilio may send its token in the start)
            # takes one of the few opening slots: a flood of such sockets, from however many
            # addresses, cannot keep a carrier's authenticated call out (the call cap still holds).
            opening = nullcontext() if authed else admission.opening_stream(address)
            with opening:  # until the start is read: the start deadline
                start, serializer = await (_twilio_start(websocket, authed) if twilio else _pcm_start(websocket))
                account = accounts.get(start.account_id)
                if account is None:
                    raise StreamError(UNKNOWN_ACCOUNT, f"unknown account {start.account_id!r}")
            with admission.call(account.id):
                call = StreamCall(websocket, start, account, serializer, settings, carrier,
                                  end_mark=END_MARK if twilio else None, bus=live_bus, opt_outs=opt_outs)
                summary = await call.run()
            await _tell(listeners, summary)
        except PeerGone:
            logger.info("stream closed by the peer before it started")
        except StreamError as exc:
            if not isinstance(exc, Refused):  # admission logs its refusals, a few lines per flood
                logger.warning(f"refusing stream from {websocket.client}: {exc.code} {exc.reason}")
            await _close(websocket, exc.code, exc.reason)
        except CallSetupError as exc:
            await _close(websocket, BAD_START, f"call cannot start: {exc}")
        except Exception as exc:
            logger.exception(f"stream failed: {exc}")
            await _close(websocket, SERVER_ERROR, "server error: the call could not run")
        finally:
            await _close(websocket, 1000, "call ended")

    async def _twilio_start(websocket: WebSocket, authed: bool) -> tuple[StreamStart, StrictTwilioSerializer]:
        try:
            start = await read_twilio_start(websocket, settings.max_frame_bytes, settings.start_timeout_s)
        except StreamError:
            if not authed:  # tell an unauthenticated peer nothing about its messages
                raise StreamError(UNAUTHORIZED, TWILIO_AUTH_REQUIRED) from None
            raise
        if not authed:
            require_start_token(start.token, settings)
        return start, StrictTwilioSerializer(start.stream_id or "", start.call_id,
                                             max_frame_bytes=settings.max_frame_bytes)

    async def _pcm_start(websocket: WebSocket) -> tuple[StreamStart, PcmFrameSerializer]:
        start = await read_pcm_start(websocket, settings.max_frame_bytes, settings.start_timeout_s)
        params = PcmFrameSerializer.InputParams(stream_sample_rate=start.sample_rate,
                                                max_frame_bytes=settings.max_frame_bytes)
        return start, PcmFrameSerializer(params)

    return app


async def _tell(listeners: list[Callable[[dict[str, Any]], Any]], summary: dict[str, Any]) -> None:
    for listener in listeners:
        try:
            result = listener(summary)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # a listener's bug must not look like the call's failure
            logger.exception(f"on_call_end listener failed: {exc}")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state != WebSocketState.CONNECTED:
        return
    try:
        await websocket.close(code=code, reason=clip_reason(reason))
    except Exception as exc:  # the peer may have gone at the same moment
        logger.debug(f"close {code} failed: {exc}")

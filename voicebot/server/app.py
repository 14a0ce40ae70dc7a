"""The media-stream server: carriers connect a call's audio over WebSocket, one call per socket.

    /media/<name>   one WebSocket route per carrier of telephony.carriers.registry: twilio,
                    telnyx, plivo, vonage, asterisk (chan_websocket), pcm (raw 16-bit PCM);
                    carriers' own HTTP routes (Twilio status callbacks, AudioSocket
                    registrations); AudioSocket on TCP when `audiosocket_port` is set
    /health         liveness, calls in progress, models loaded
    /ready          whether to send it calls: records disk writable with room, records
                    database and bus reachable, not draining (503 naming what fails)
    /metrics        Prometheus metrics (voicebot.server.metrics; bearer metrics token)

A stream is accepted, authenticated (token or the carrier's signature), its start read and checked,
and only then given a pipeline.  Every refusal is a WebSocket close with a code and a reason
(voicebot.server.errors); nothing one stream does can reach another: each runs in its own
task with its own pipeline, and the models they share are read-only.  How many streams may be
opening at once (in all, and per address) and how many calls may run is `admission`'s to say.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.websockets import WebSocketState

from audio_models import loader
from dialogue.accounts import Account
from dialogue.session import CallSetupError
from telephony.bus.base import Bus
from telephony.bus.factory import open_bus
from telephony.carriers.asterisk import AUDIOSOCKET
from telephony.carriers.asterisk.audiosocket.connection import listen
from telephony.carriers.base import Carrier
from telephony.carriers.registry import CARRIERS
from telephony.carriers.stream_start import PeerGone, StreamStart
from telephony.handoff.outbox import OUTBOX_NAME, HandoffOutbox
from telephony.providers.base import Provider
from telephony.carriers.providers import carrier_providers
from voicebot import config
from voicebot.console.mount import serve_console
from voicebot.providers.local import LocalProvider
from voicebot.server.accounts import AccountBook
from voicebot.server.admission import Admission, Refused
from voicebot.records.audit import audit
from voicebot.records.contact_history import StoredContactHistory
from voicebot.server.call import StreamCall
from voicebot.server.compliance_gate import CallStartGate
from voicebot.server.drain import Drain
from voicebot.server.errors import (
    BAD_START, SERVER_ERROR, UNAUTHORIZED, UNKNOWN_ACCOUNT, StreamError, clip_reason,
)
from voicebot.server.metrics import CALLS_IN_PROGRESS, call_ended, listen_to_inferences, mount_metrics, refused
from voicebot.server.opt_out_guard import copy_while_serving, server_opt_outs
from voicebot.server.payments_api import mount_payments
from voicebot.server.readiness import readiness
from voicebot.server.settings import ServerSettings
from voicebot.server.warmup import warm_up


def create_app(settings: ServerSettings, provider: Provider | None = None,
               on_call_end: list[Callable[[dict[str, Any]], Any]] | None = None,
               bus: Bus | None = None, providers: Mapping[str, Provider] | None = None) -> FastAPI:
    """The ASGI app. `provider` carries out transfers, hang-ups and SMS the dialogue decides on;
    by default a LocalProvider, which only logs and records them.  `providers` names a carrier's
    own provider (`{"telnyx": TelnyxRestProvider(...)}`): a call's actions go to the provider of
    the carrier its stream came in on, since only that carrier knows its call id; a carrier
    without one gets `provider`.  `on_call_end` functions (sync
    or async; also `app.state.on_call_end`) get each finished call's summary, whose
    `carrier_call_id` is the provider's call id: how a dialer in the same process learns the
    outcome of a call it placed.  `bus` (default: Redis when REDIS_URL is set, else in-process)
    carries the live call feed and the agent queue."""
    accounts = AccountBook(settings.accounts_file)
    engine = config.current()
    live_bus = bus if bus is not None else open_bus(engine.redis_url, engine.bus_prefix)
    carrier = provider if provider is not None else LocalProvider()
    by_carrier = carrier_providers(carrier, providers or {})
    listeners = on_call_end if on_call_end is not None else []
    opt_outs = server_opt_outs(settings)  # journal (and the campaigns' Redis set): every start asks
    handoff_outbox = HandoffOutbox(settings.records_dir / OUTBOX_NAME)  # packets the bus could not take

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if settings.warm_up:  # before the first call is accepted, off the event loop
            await asyncio.to_thread(warm_up, accounts.locales(), settings.sample_rate)
        listen_to_inferences()  # ASR/TTS times on /metrics are calls', not the warm-up's
        handoff_outbox.start_delivering(live_bus)  # what an earlier run kept while the bus was away
        resync = (asyncio.create_task(copy_while_serving(opt_outs), name="opt-out-resync")
                  if opt_outs.store is not None else None)  # a store that lost the opt-outs gets them back
        audiosocket = None
        if settings.audiosocket_port:  # Asterisk AudioSocket: TCP, its calls run as every stream does
            audiosocket = await listen(settings.audiosocket_host, settings.audiosocket_port,
                                       lambda connection: _serve(connection, AUDIOSOCKET), _app)
        yield
        if resync is not None:
            resync.cancel()
        if audiosocket is not None:
            audiosocket.close()

    # No /docs, /redoc or /openapi.json: they would describe every console route to anyone.
    app = FastAPI(title="voicebot media-stream server", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.provider, app.state.accounts = settings, carrier, accounts
    app.state.providers = by_carrier
    app.state.on_call_end = listeners
    app.state.bus = live_bus
    app.state.opt_outs = opt_outs
    app.state.handoff_outbox = handoff_outbox
    records = serve_console(app, settings)  # records store (app.state.records), web console at /console
    app.state.call_gate = CallStartGate(settings, StoredContactHistory(records) if settings.uses_contact_history() else None)
    mount_metrics(app, settings)  # /metrics; counts the records store's failed writes
    mount_payments(app, settings, records)  # POST /payments: the payments feed (bearer payments token)
    drain = app.state.drain = Drain(settings.drain_timeout_s)  # SIGTERM: `voicebot serve` drains

    def _audit_refused_call(account_id: str, reason: str) -> None:
        audit(records, "server", "call_refused", account_id, reason=reason)

    admission = Admission(settings.max_opening_streams, settings.max_opening_streams_per_address,
                          settings.max_calls, on_call_refused=_audit_refused_call)
    app.state.admission = admission

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "calls_in_progress": admission.calls, "streams": admission.snapshot(),
                "models": loader.loaded(), "draining": drain.draining}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        ok, checks = await readiness(settings.records_dir, settings.ready_min_free_mb, records, live_bus, drain)
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    access, limits = settings.access(), settings.limits()

    def _mount(edge: Carrier) -> None:
        """The carrier's WebSocket route, and its HTTP routes if it has any."""
        async def stream(websocket: WebSocket) -> None:
            await _serve(websocket, edge)

        if edge.websocket:
            app.add_api_websocket_route(edge.path, stream, name=f"{edge.name}_stream")
        router = edge.routes(access, live_bus)
        if router is not None:
            app.include_router(router)

    for registered in CARRIERS:
        _mount(registered)

    def _accounts_of(start: StreamStart) -> tuple[Account, list[Account]]:
        """The call's account; for a debtor calling in without naming one, every account of the
        caller's number (the knowledge check tells which is theirs)."""
        if start.account_id:
            account = accounts.get(start.account_id)
            if account is None:
                raise StreamError(UNKNOWN_ACCOUNT, f"unknown account {start.account_id!r}")
            return account, []
        found = accounts.by_phone(start.caller or "")
        if not found:
            raise StreamError(UNKNOWN_ACCOUNT, "no account for the caller's number"
                                               if start.caller else "an inbound start names no caller")
        return found[0], found[1:]

    async def _serve(websocket: WebSocket, edge: Carrier) -> None:
        """One stream of any carrier (`edge`) to its end; its actions go to that carrier's provider."""
        await websocket.accept()  # accepted first, so a refusal can carry a close code and reason
        address = websocket.client.host if websocket.client else "unknown"
        drain.opened()
        try:
            drain.refuse_new()  # draining for a shutdown: 1001, dial another server
            authed = edge.authenticate(websocket, access)  # a wrong credential: 4401 now
            if not authed and not edge.token_in_start:
                raise StreamError(UNAUTHORIZED, edge.auth_required)
            # Only a stream that has proved nothing yet (Twilio may send its token in the start)
            # takes one of the few opening slots: a flood of such sockets, from however many
            # addresses, cannot keep a carrier's authenticated call out (the call cap still holds).
            opening = nullcontext() if authed else admission.opening_stream(address)
            with opening:  # until the start is read: the start deadline
                start, serializer = await edge.open(websocket, access, limits, authed)
                account, others = _accounts_of(start)
            with admission.call(account.id), CALLS_IN_PROGRESS.track_inprogress():
                call = StreamCall(websocket, start, account, serializer, settings, by_carrier[edge.name],
                                  pacing=edge.pacing(start), bus=live_bus, opt_outs=opt_outs,
                                  other_accounts=others)
                summary = await call.run()
            call_ended(summary)
            await _tell(listeners, summary)
        except PeerGone:
            logger.info("stream closed by the peer before it started")
        except StreamError as exc:
            refused(exc.code)
            if not isinstance(exc, Refused):  # admission logs its refusals, a few lines per flood
                logger.warning(f"refusing stream from {websocket.client}: {exc.code} {exc.reason}")
            await _close(websocket, exc.code, exc.reason)
        except CallSetupError as exc:
            refused(BAD_START)
            await _close(websocket, BAD_START, f"call cannot start: {exc}")
        except Exception as exc:
            logger.exception(f"stream failed: {exc}")
            refused(SERVER_ERROR)
            await _close(websocket, SERVER_ERROR, "server error: the call could not run")
        finally:
            drain.closed()
            await _close(websocket, 1000, "call ended")

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

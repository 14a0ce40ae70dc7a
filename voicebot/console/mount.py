"""Adding the console to a FastAPI app (the media-stream server's, or a stand-alone one)."""

from __future__ import annotations

import logging
import secrets
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from telephony.bus.base import Bus
from voicebot.console.auth import Sessions
from voicebot.console.deps import PREFIX, Console, Forbidden, SignInRequired
from voicebot.console.routes_calls import router as calls_router
from voicebot.console.routes_ops import router as ops_router
from voicebot.console.routes_promises import router as promises_router
from voicebot.console.security_headers import SecurityHeaders
from voicebot.console.sign_in_limits import SignInGuard, SignInPolicy
from voicebot.console.views import refuse_raw_records
from voicebot.records.audit import audit
from voicebot.records.store import RecordStore

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


def mount_console(app: FastAPI, store: RecordStore, *, bus: Bus | None = None, secret: str | None = None,
                  queues: tuple[str, ...] | None = None, sign_in: SignInPolicy,
                  recordings: Path | None = None, secure_cookies: bool = False) -> Console:
    """Serve the console at /console.  `secret` signs sign-in cookies; without one a random
    secret is made, so sessions end when the server restarts (fine for one process; give the
    same secret to every worker behind a load balancer).  `sign_in`: lockouts and the
    password-check pool (`SignInPolicy.from_settings`: they are server settings).  `recordings`: the records
    folder, the only place call recordings are served from (None: none are)."""
    ctx = Console(store, Sessions(secret or secrets.token_urlsafe(32), store), SignInGuard(sign_in), bus,
                  tuple(queues) if queues else None, recordings=recordings, secure_cookies=secure_cookies)
    refuse_raw_records(ctx.templates.env)  # pages show calls only through views.py, masked
    app.state.console = ctx
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI):
        async with inner(a) as state:
            try:  # follow calls from the start, not from the first visit to the live page
                await ctx.start_board(a)
            except Exception as exc:  # e.g. Redis down: the live page retries, calls go on
                log.warning("console live board not started: %s", exc)
            yield state
        await ctx.aclose()  # stop listening to the bus; queued records reach the database
    app.router.lifespan_context = lifespan
    app.include_router(calls_router, prefix=PREFIX)
    app.include_router(ops_router, prefix=PREFIX)
    app.include_router(promises_router, prefix=PREFIX)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(STATIC)), name="console-static")
    app.add_middleware(SecurityHeaders, prefix=PREFIX)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired):
        if "/api/" in request.url.path:
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        audit(store, exc.principal, "denied", request.url.path)
        if "/api/" in request.url.path:
            return JSONResponse({"detail": str(exc)}, status_code=403)
        return HTMLResponse(ctx.templates.get_template("forbidden.html").render(
            prefix=PREFIX, user=exc.principal, what=exc.what, nav=[]), status_code=403)

    return ctx


def serve_console(app: FastAPI, settings) -> RecordStore:
    """What `create_app` does for the console: open the records store named by the server's
    settings (`records_url()`), keep it on `app.state.records` (calls attach to it), serve the
    console, and add what only the server learns at the end (who closed the stream, the
    carrier's actions) to each stored call."""
    store = RecordStore(settings.records_url())
    app.state.records = store
    secret = settings.console_secret.get_secret_value() if settings.console_secret else None
    mount_console(app, store, secret=secret, sign_in=SignInPolicy.from_settings(settings),
                  recordings=settings.records_dir,
                  secure_cookies=(settings.public_url or "").startswith(("https://", "wss://")))

    def _carrier_extra(summary: dict) -> None:
        keep = {k: summary[k] for k in CARRIER_KEYS if k in summary}
        if keep and summary.get("call_id"):
            store.submit(_merge_extra(summary["call_id"], keep))
    app.state.on_call_end.append(_carrier_extra)
    return store


CARRIER_KEYS = ("carrier", "carrier_call_id", "stream_id", "ended_by", "close", "carrier_actions",
                "end_mark_played")


def _merge_extra(call_id: str, extra: dict):
    import json

    from voicebot.records.models import Call

    clean = json.loads(json.dumps(extra, default=str))

    def write(db) -> None:
        call = db.get(Call, call_id)
        if call is not None:
            call.extra = {**(call.extra or {}), **clean}
    return write

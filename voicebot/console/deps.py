"""What every console route shares: the context (store, sessions, templates, live board) and
the signed-in user, checked against the role table in `auth.PERMISSIONS`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from telephony.bus.base import Bus
from voicebot.console.auth import COOKIE, PERMISSIONS, Principal, Sessions, lookup
from voicebot.console.live import LiveBoard
from voicebot.console.sign_in_limits import SignInGuard
from voicebot.records.queries import as_utc
from voicebot.records.store import RecordStore

TEMPLATES = Path(__file__).parent / "templates"
PREFIX = "/console"


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in form, the JSON API answers 401."""


class Forbidden(Exception):
    def __init__(self, principal: Principal, what: str):
        self.principal, self.what = principal, what
        super().__init__(f"{principal.role} may not use {what}")


@dataclass
class Console:
    store: RecordStore
    sessions: Sessions
    sign_in: SignInGuard  # lockouts, the password-check pool
    bus: Bus | None = None
    queues: tuple[str, ...] | None = None  # None: every queue the scripts transfer to
    templates: Jinja2Templates = field(default_factory=lambda: _templates())
    recordings: Path | None = None  # the records folder: the only place a recording is served from
    secure_cookies: bool = False  # behind HTTPS (a proxy in front): the session cookie is Secure
    _board: LiveBoard | None = None
    _lock: asyncio.Lock | None = None

    def recording_file(self, stored: str | None) -> Path | None:
        """The call's WAV, if the path the database holds leads (after `..` and symlinks) to a
        WAV file inside the records folder; None otherwise.  A row pointing at /etc/passwd, or
        a console mounted without a records folder, serves nothing."""
        if not stored or self.recordings is None:
            return None
        path = Path(stored).resolve()
        if path.suffix.lower() != ".wav" or not path.is_relative_to(self.recordings.resolve()):
            return None
        return path if path.is_file() else None

    async def board(self, request: Request) -> LiveBoard:
        return await self.start_board(request.app)

    async def start_board(self, app: Any) -> LiveBoard:
        """The live board, started once in the server's loop (at start-up, or on first use if
        the bus was down then).  The bus is the app's (`app.state.bus`, shared with the calls)
        when it has one, else the console's own."""
        if self._board is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._board is None:
                    board = LiveBoard(self.live_bus(app), self.store)
                    await board.start()
                    self._board = board
        return self._board

    async def agent_queues(self) -> tuple[str, ...]:
        if self.queues is None:
            from voicebot.console.scripts_view import transfer_queues

            self.queues = await asyncio.to_thread(transfer_queues)
        return self.queues

    async def aclose(self) -> None:
        if self._board is not None:
            await self._board.stop()
            self._board = None
        await asyncio.to_thread(self.store.flush)
        self.sign_in.close()

    def live_bus(self, app: Any) -> Bus:
        bus = getattr(app.state, "bus", None) or self.bus
        if bus is None:
            from telephony.bus.factory import open_bus
            from voicebot import config

            engine = config.current()
            self.bus = bus = open_bus(engine.redis_url, engine.bus_prefix)
        return bus

    def page(self, request: Request, user: Principal, name: str, **context: Any):
        nav = [(path, label) for path, label, what in NAV if user.may(what)]
        return self.templates.TemplateResponse(request, name, {"user": user, "nav": nav, "prefix": PREFIX,
                                                               **context})


NAV = [("/calls", "Calls", "calls"), ("/dashboard", "Dashboard", "dashboard"), ("/promises", "Promises", "promises"),
       ("/live", "Live", "live"),
       ("/scripts", "Scripts", "scripts"), ("/audit", "Audit log", "audit")]


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.filters["utc"] = as_utc  # SQLite gives naive UTC, PostgreSQL the session's zone
    return templates


def console(request: Request) -> Console:
    return request.app.state.console


def current_user(request: Request, ctx: Console = Depends(console)) -> Principal:
    username = ctx.sessions.read(request.cookies.get(COOKIE))
    user = lookup(ctx.store, username) if username else None
    if user is None:
        raise SignInRequired()
    return user


def require(what: str):
    if what not in PERMISSIONS:
        raise KeyError(f"no permission named {what!r}")

    def dependency(user: Principal = Depends(current_user)) -> Principal:
        if not user.may(what):
            raise Forbidden(user, what)
        return user
    return dependency

"""Graceful drain: on SIGTERM the server stops taking streams and lets its live calls end.

uvicorn's own shutdown closes every WebSocket at once with 1012: each call in progress is cut
mid-sentence.  Here the first SIGTERM (or Ctrl-C) only starts a drain: new streams are refused
with 1001 ("going away": the carrier or proxy dials another server), `/ready` answers 503
"draining" so a load balancer stops sending, and the calls already on the line go on to their
end.  When the last one has ended, or `drain_timeout_s` has passed, uvicorn's shutdown runs as
usual (the calls left, if any, are closed with 1012 and still write their records, given
RECORD_GRACE_S), and the process exits.  A second signal skips the wait.

A rolling upgrade therefore is: SIGTERM a replica, let the proxy move new calls to the others
(it sees 503 on `/ready`), and start the new version when the old process has exited.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType

import uvicorn
from loguru import logger

from voicebot.server.errors import StreamError
from voicebot.server.metrics import DRAINING

GOING_AWAY = 1001  # RFC 6455 "going away": this server is draining for a shutdown, dial another
#: Calls cut at the drain limit (1012) get this long to write their records before exit.
RECORD_GRACE_S = 15.0


class Drain:
    """Whether the server is draining, and the streams it still serves (opening or in a call)."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic):
        self.timeout_s = timeout_s
        self.since: float | None = None
        self.streams = 0
        self._clock = clock

    @property
    def draining(self) -> bool:
        return self.since is not None

    def begin(self) -> None:
        """Refuse new streams from now on (safe in a signal handler: no I/O, no locks)."""
        if self.since is None:
            self.since = self._clock()
            DRAINING.set(1)

    def opened(self) -> None:
        self.streams += 1

    def closed(self) -> None:
        self.streams -= 1

    def refuse_new(self) -> None:
        """Raise StreamError(1001) for a stream that arrives once draining has begun."""
        if self.draining:
            raise StreamError(GOING_AWAY, "server draining for a shutdown: connect to another server")

    def over(self) -> bool:
        """Every stream has ended, or the drain has lasted its limit."""
        return self.since is not None and (self.streams <= 0 or self._clock() - self.since >= self.timeout_s)

    def check(self) -> dict:
        """`/ready`'s entry: not ready while draining."""
        if not self.draining:
            return {"ok": True}
        return {"ok": False, "error": f"draining: {self.streams} stream(s) finishing, new streams refused"}


class DrainingServer(uvicorn.Server):
    """uvicorn's Server whose first SIGTERM/SIGINT drains (see the module's docstring)."""

    def __init__(self, config: uvicorn.Config, drain: Drain):
        super().__init__(config)
        self.drain = drain
        self._drain_signal: int | None = None
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: it only flips state, the event loop (on_tick) does the rest.
        if self._drain_signal is not None or self.drain.timeout_s <= 0 or self.should_exit:
            super().handle_exit(sig, frame)  # a second signal, or no drain: uvicorn's shutdown now
            return
        self._drain_signal = sig
        self.drain.begin()

    async def on_tick(self, counter: int) -> bool:
        """Every 0.1 s on the event loop: log the drain, and end it once it is over."""
        if self._drain_signal is not None and not self.should_exit:
            if not self._announced:
                self._announced = True
                logger.warning(f"{signal.Signals(self._drain_signal).name}: draining; new streams are "
                               f"refused ({GOING_AWAY}), {self.drain.streams} stream(s) may run for up to "
                               f"{self.drain.timeout_s:g} s; send the signal again to stop now")
            if self.drain.over():
                if self.drain.streams:
                    logger.warning(f"drain limit of {self.drain.timeout_s:g} s reached: closing "
                                   f"{self.drain.streams} stream(s) still open")
                else:
                    logger.info("drained: every call has ended; shutting down")
                super().handle_exit(self._drain_signal, None)  # uvicorn's shutdown, exit as signalled
        return await super().on_tick(counter)

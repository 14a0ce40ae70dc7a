"""How many sockets and calls the server takes at once, and who is turned away at the door.

A socket costs almost nothing until its start is read, so nothing limited them: 1,100 idle
/media/twilio sockets, each held for the start deadline before its 4401, took `/health`, the
console and a valid call down (issue 19).  And a call costs a pipeline, a recogniser's and a
voice's share of the CPU: past what the machine holds, every call on it suffers, so the call
beyond the cap is better refused at once (the carrier can route it elsewhere or retry).

Two doors, both counted here on the event loop (no await between a check and its count):

- *opening* streams, accepted but not yet started (start read, credentials checked): a cap for
  the whole server and one per remote address.  One noisy address fills its own share
  (4429) and leaves room for everyone else; a crowd of addresses meets the global cap (1013).
- *calls*: the cap on concurrent calls (1013), with the refusal in the log and the audit file.

Refusals are counted per reason (`/health` shows them) and logged, at most once per reason
every few seconds with the count since, so a flood cannot flood the log too.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from loguru import logger

from voicebot.server.errors import TOO_MANY_OPENING, TRY_AGAIN_LATER, StreamError

#: Refusals of one kind are logged at most this often (the count in between is in the line).
LOG_EVERY_S = 5.0


class Refused(StreamError):
    """A stream turned away at a cap; already counted and logged here."""


class Admission:
    """The server's counts of opening streams and calls, and its caps on both."""

    def __init__(self, max_opening: int, max_opening_per_address: int, max_calls: int | None, *,
                 on_call_refused: Callable[[str, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        """`on_call_refused(account_id, reason)` writes the audit entry of a call refused at the cap."""
        self.max_opening, self.max_opening_per_address = max_opening, max_opening_per_address
        self.max_calls = max_calls
        self.on_call_refused = on_call_refused
        self.opening_by_address: Counter[str] = Counter()  # only addresses with a stream opening
        self.calls = 0
        self.refused: Counter[str] = Counter()
        self._clock = clock
        self._logged_at: dict[str, float] = {}
        self._unlogged: Counter[str] = Counter()

    @property
    def opening(self) -> int:
        return self.opening_by_address.total()

    @contextmanager
    def opening_stream(self, address: str) -> Iterator[None]:
        """Hold one opening slot for `address` until the block ends (the start was read, or the
        stream refused).  Raises StreamError (4429 or 1013) at once when no slot is free."""
        if self.opening_by_address[address] >= self.max_opening_per_address:
            self._refuse("opening_per_address", f"{address} has {self.max_opening_per_address} streams opening")
            raise Refused(TOO_MANY_OPENING, f"too many streams opening from your address "
                                                f"(limit {self.max_opening_per_address}); try again later")
        if self.opening >= self.max_opening:
            self._refuse("opening", f"{self.max_opening} streams opening (from {address})")
            raise Refused(TRY_AGAIN_LATER, "server busy: too many streams opening; try again later")
        self.opening_by_address[address] += 1
        try:
            yield
        finally:
            self.opening_by_address[address] -= 1
            if self.opening_by_address[address] <= 0:
                del self.opening_by_address[address]  # bounded by the streams opening, not by history

    @contextmanager
    def call(self, account_id: str) -> Iterator[None]:
        """Hold one call slot until the block ends; StreamError (1013) when the server is full."""
        if self.max_calls and self.calls >= self.max_calls:  # 0 or None: no cap
            reason = f"server at its limit of {self.max_calls} calls; try again later"
            self._refuse("calls", f"call for account {account_id}: {self.calls} calls in progress, "
                                  f"the limit is {self.max_calls}")
            if self.on_call_refused is not None:
                try:
                    self.on_call_refused(account_id, reason)
                except Exception as exc:  # the refusal stands; the audit's failure is logged
                    logger.exception(f"could not audit a call refused at the cap: {exc}")
            raise Refused(TRY_AGAIN_LATER, reason)
        self.calls += 1
        try:
            yield
        finally:
            self.calls -= 1

    def snapshot(self) -> dict:
        """What `/health` shows: streams opening, calls, caps and refusals so far."""
        return {"opening": self.opening, "calls": self.calls, "max_calls": self.max_calls,
                "max_opening": self.max_opening, "max_opening_per_address": self.max_opening_per_address,
                "refused": dict(self.refused)}

    def _refuse(self, reason: str, detail: str) -> None:
        self.refused[reason] += 1
        now = self._clock()
        if now - self._logged_at.get(reason, float("-inf")) < LOG_EVERY_S:
            self._unlogged[reason] += 1
            return
        self._logged_at[reason] = now
        since = self._unlogged.pop(reason, 0)
        logger.warning(f"refusing a stream ({reason}): {detail}"
                       + (f"; {since} more refused since the last such line" if since else ""))

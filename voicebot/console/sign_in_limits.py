"""Sign-in attempts, limited: lockouts after repeated failures, and password checks in a small pool.

The console runs in the process that carries the calls.  Each password check is argon2id with
64 MiB and about 0.1 s of CPU; unlimited, 120 wrong passwords 40 at a time took that
process from 243 MB to 2.75 GB and a live call's first reply from 0.7 s to 6 s (issue 19).  So:

- **Lockouts.**  Failures are counted per remote address and per user name (known or not: a
  lockout must not tell which names exist).  `max_failures` within `window_s` locks that
  address or name out for `lockout_s`, doubling with each further lockout up to
  `lockout_max_s`; a success resets both.  Attempts in flight count as failures until they
  resolve, so 40 at once get at most `max_failures` checks.  Each kind of key is remembered in
  a bounded LRU table (`tracked_max`): an attacker rotating names or addresses only pushes
  out the oldest entries, memory stays bounded.
- **A bounded pool.**  At most `verify_workers` checks run at once, on threads of their own
  niced below the calls' (so argon2 takes what the calls leave), with `verify_queue` more
  waiting; beyond that a sign-in is refused at once (503) instead of queued without bound.
  The event loop never runs argon2.

What a lockout does not stop: someone who knows a user name can keep that user locked out;
the lockout is time-limited and the audit log shows who tried from where.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from voicebot.console.auth import Principal, verify
from voicebot.records.audit import audit
from voicebot.records.store import RecordStore
from voicebot.services import thread_priority

T = TypeVar("T")
#: nice steps of the password-check threads: as far below the calls as a thread can go
VERIFY_NICE = 19


#: SignInPolicy field -> the server setting it comes from (where the defaults and docs live)
SETTINGS = {"max_failures": "sign_in_max_failures", "window_s": "sign_in_window_s",
            "lockout_s": "sign_in_lockout_s", "lockout_max_s": "sign_in_lockout_max_s",
            "verify_workers": "sign_in_verify_workers", "verify_queue": "sign_in_verify_queue"}


@dataclass(frozen=True)
class SignInPolicy:
    """The limits, as `ServerSettings.sign_in_*` set them (described there)."""

    max_failures: int
    window_s: float
    lockout_s: float
    lockout_max_s: float
    verify_workers: int
    verify_queue: int
    tracked_max: int = 10_000  # addresses remembered, and user names remembered (each)

    @classmethod
    def from_settings(cls, settings: object) -> SignInPolicy:
        """From the server's settings (a `ServerSettings`)."""
        return cls(**{ours: getattr(settings, theirs) for ours, theirs in SETTINGS.items()})


@dataclass
class _Record:
    failures: deque[float]
    in_flight: int = 0
    locked_until: float = 0.0
    lockouts: int = 0
    last_failure: float = float("-inf")


@dataclass
class Lockout:
    """A lockout that has just begun: what the audit log records."""

    kind: str  # "address" | "user"
    key: str
    seconds: float
    failures: int


class SignInRefused(Exception):
    """Refused before any password check: locked out (429) or the checks are all busy (503)."""

    def __init__(self, status: int, retry_after_s: int, message: str):
        super().__init__(message)
        self.status, self.retry_after_s, self.message = status, retry_after_s, message


class FailureTable:
    """Recent failures per key (an address, or a user name), bounded to `policy.tracked_max`."""

    def __init__(self, kind: str, policy: SignInPolicy, clock: Callable[[], float] = time.monotonic):
        self.kind, self.policy, self._clock = kind, policy, clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def wait_s(self, key: str) -> float:
        """Seconds until `key` may try again: 0 if it may now.  Attempts in flight count as
        failures until they resolve, so a burst cannot run more checks than the limit."""
        record = self._records.get(key)
        if record is None:
            return 0.0
        now = self._clock()
        if record.locked_until > now:
            return record.locked_until - now
        self._forget_old(record, now)
        if len(record.failures) + record.in_flight >= self.policy.max_failures:
            return 1.0  # the attempts in flight decide; ask again in a moment
        return 0.0

    def begin(self, key: str) -> None:
        self._touch(key).in_flight += 1

    def failed(self, key: str) -> Lockout | None:
        """One more failure for `key`; the lockout it starts, if it starts one."""
        record, now = self._touch(key), self._clock()
        record.in_flight = max(0, record.in_flight - 1)
        if now - record.last_failure > self.policy.lockout_max_s:
            record.lockouts = 0  # a long quiet spell: back-off starts again from the first step
        record.last_failure = now
        self._forget_old(record, now)
        record.failures.append(now)
        if len(record.failures) < self.policy.max_failures:
            return None
        seconds = min(self.policy.lockout_max_s, self.policy.lockout_s * 2 ** record.lockouts)
        record.lockouts += 1
        record.locked_until = now + seconds
        count = len(record.failures)
        record.failures.clear()  # after the lockout, another `max_failures` to the next one
        return Lockout(self.kind, key, seconds, count)

    def succeeded(self, key: str) -> None:
        self._records.pop(key, None)

    def abandoned(self, key: str) -> None:
        """An attempt that never reached a verdict (refused as busy, or an error)."""
        record = self._records.get(key)
        if record is not None:
            record.in_flight = max(0, record.in_flight - 1)

    def _touch(self, key: str) -> _Record:
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = _Record(deque(maxlen=self.policy.max_failures))
            while len(self._records) > self.policy.tracked_max:
                self._records.popitem(last=False)  # the least recently seen
        else:
            self._records.move_to_end(key)
        return record

    def _forget_old(self, record: _Record, now: float) -> None:
        while record.failures and now - record.failures[0] > self.policy.window_s:
            record.failures.popleft()


class VerifierBusy(Exception):
    """Every password-check slot and queue place is taken: refuse at once (503)."""


class VerifyPool:
    """At most `workers` password checks at once, `queue` more waiting, the rest refused."""

    def __init__(self, workers: int, queue: int):
        self.capacity = workers + queue
        self.admitted = 0  # running or waiting; changed on the event loop only
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sign-in-check",
                                        initializer=thread_priority.lower, initargs=(None, VERIFY_NICE))

    async def run(self, check: Callable[..., T], *args: object) -> T:
        if self.admitted >= self.capacity:
            raise VerifierBusy()
        loop = asyncio.get_running_loop()
        self.admitted += 1
        future = self._pool.submit(check, *args)
        # Released when the thread is done, not when this coroutine is: a request cancelled
        # mid-check must not free a slot whose thread is still hashing.
        future.add_done_callback(lambda _f: self._release_from(loop))
        return await asyncio.wrap_future(future)

    def _release_from(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.call_soon_threadsafe(self._release)
        except RuntimeError:  # the loop has closed (shutdown): nobody is counting any more
            pass

    def _release(self) -> None:
        self.admitted -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class SignInGuard:
    """What the sign-in route asks: may this address try this name now, and the check itself."""

    policy: SignInPolicy  # from the server's settings: the console has no defaults of its own
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.addresses = FailureTable("address", self.policy, self.clock)
        self.names = FailureTable("user", self.policy, self.clock)
        self.pool = VerifyPool(self.policy.verify_workers, self.policy.verify_queue)

    def retry_after_s(self, address: str, name: str) -> int:
        """0 when the attempt may go ahead, else whole seconds to wait (for Retry-After)."""
        return math.ceil(max(self.addresses.wait_s(address), self.names.wait_s(_name_key(name))))

    async def check(self, address: str, name: str, verify: Callable[..., T], *args: object
                    ) -> tuple[T, list[Lockout]]:
        """Run `verify(*args)` in the pool; its result (falsy: a failure) and the lockouts that
        failure started.  Raises VerifierBusy when the pool is full."""
        key = _name_key(name)
        self.addresses.begin(address)
        self.names.begin(key)
        try:
            result = await self.pool.run(verify, *args)
        except BaseException:
            self.addresses.abandoned(address)
            self.names.abandoned(key)
            raise
        if result:
            self.addresses.succeeded(address)
            self.names.succeeded(key)
            return result, []
        started = [lock for lock in (self.addresses.failed(address), self.names.failed(key)) if lock]
        return result, started

    async def sign_in(self, store: RecordStore, address: str, name: str, password: str) -> Principal | None:
        """The user if the password matches, None if not; SignInRefused when this address or
        name is locked out or every check slot is taken.  Lockouts go to the audit log; the
        refusals they cause do not (a flood would flood the log)."""
        wait = self.retry_after_s(address, name)
        if wait:
            raise SignInRefused(429, wait, f"Too many failed sign-ins. Try again in {wait} s.")
        try:
            user, lockouts = await self.check(address, name, verify, store, name, password)
        except VerifierBusy:
            raise SignInRefused(503, 1, "Sign-in is busy. Try again in a moment.") from None
        for lock in lockouts:
            audit(store, name[:64] or "?", "sign_in_locked", f"{lock.kind} {lock.key}", address=address,
                  seconds=round(lock.seconds), failures=lock.failures)
        return user

    def close(self) -> None:
        self.pool.close()


def _name_key(name: str) -> str:
    return name.strip().lower()[:64]

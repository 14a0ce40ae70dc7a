"""Console sign-in under attack (issue 19, item 2): lockouts per address and per user name, and
password checks in a small bounded pool, off the event loop of the process that carries calls.

The real server (uvicorn on loopback, `create_app` with its console and records store) and
real argon2 checks; clients come from distinct loopback addresses (127.0.0.N), so "another
address" is another TCP peer, not a header.  The hasher is wrapped only to count the checks
that run and how many ran at once."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

import httpx
import pytest

from conftest import SAMPLE_ACCOUNTS
from media_server import free_port, serving
from voicebot.console import auth
from voicebot.console.auth import COOKIE, add_user
from voicebot.console.sign_in_limits import FailureTable, SignInPolicy
from voicebot.records.audit import recent
from voicebot.server import ServerSettings, create_app

PASSWORD = "right-password-1"


class CountingHasher:
    """The real PasswordHasher, counting verifications and the most that ran at once."""

    def __init__(self, inner):
        self.inner, self.calls, self.running, self.peak = inner, 0, 0, 0
        self._lock = threading.Lock()

    def verify(self, hashed, password):
        with self._lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return self.inner.verify(hashed, password)
        finally:
            with self._lock:
                self.running -= 1

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    records = tmp_path_factory.mktemp("sign-in")
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=["t"], warm_up=False)
    app = create_app(settings)
    for name in ("sam", "dana", "lee"):
        add_user(app.state.records, name, PASSWORD, "supervisor")
    port = free_port()
    hasher = CountingHasher(auth._hasher)
    with pytest.MonkeyPatch.context() as patch, serving(app, port):
        patch.setattr(auth, "_hasher", hasher)
        yield {"url": f"http://127.0.0.1:{port}", "app": app, "hasher": hasher}


def client(console, host: int) -> httpx.AsyncClient:
    """A client whose connections come from 127.0.0.<host>."""
    return httpx.AsyncClient(base_url=console["url"], timeout=60, follow_redirects=False,
                             transport=httpx.AsyncHTTPTransport(local_address=f"127.0.0.{host}"))


async def sign_in(web: httpx.AsyncClient, name: str, password: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    reply = await web.post("/console/login", data={"username": name, "password": password})
    return reply, time.monotonic() - started


def audit_actions(console) -> list[tuple[str, str, str]]:
    return [(e.action, e.username, e.target) for e in recent(console["app"].state.records, 1000)]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def test_a_burst_of_wrong_passwords_from_one_address_is_locked_out_at_once(console):
    """40 wrong sign-ins at once from one address, each for another (unknown) name: five are
    checked (401), the other 35 are refused with 429 and a Retry-After before any hashing;
    the address stays locked out even with a right password, while another address signs in."""
    hasher = console["hasher"]
    checks_before = hasher.calls

    async def burst():
        async with client(console, 2) as attacker:
            return await asyncio.gather(*(sign_in(attacker, f"ghost{i}", f"wrong-{i}") for i in range(40)))

    replies = asyncio.run(burst())
    codes = sorted(r.status_code for r, _ in replies)
    assert codes == [401] * 5 + [429] * 35, codes
    assert hasher.calls - checks_before == 5
    refused = [(r, s) for r, s in replies if r.status_code == 429]
    assert all(int(r.headers["retry-after"]) >= 1 for r, _ in refused)
    assert all("Too many failed sign-ins" in r.text for r, _ in refused)
    assert max(s for _, s in refused) < 2.0, sorted(s for _, s in refused)[-5:]
    assert hasher.peak <= 2

    async def afterwards():
        async with client(console, 2) as attacker, client(console, 3) as other:
            return await sign_in(attacker, "sam", PASSWORD), await sign_in(other, "sam", PASSWORD)

    (same, _), (other, _) = asyncio.run(afterwards())
    assert same.status_code == 429 and 1 <= int(same.headers["retry-after"]) <= 60
    assert other.status_code == 303 and COOKIE in other.cookies
    assert [t for a, _, t in audit_actions(console) if a == "sign_in_locked"].count("address 127.0.0.2") == 1


def test_a_user_name_is_locked_out_from_every_address_known_or_not(console):
    """Five failures against one name, from five addresses, lock that name for everyone; a
    name nobody has is treated the same (a lockout tells nothing about which names exist)."""
    async def attempts(name: str, first_host: int) -> list[httpx.Response]:
        out = []
        for n in range(6):
            async with client(console, first_host + n) as web:
                out.append((await sign_in(web, name, f"wrong-{n}"))[0])
        async with client(console, first_host + 6) as web:
            out.append((await sign_in(web, name, PASSWORD))[0])
        return out

    known = asyncio.run(attempts("dana", 60))
    unknown = asyncio.run(attempts("nobody-here", 70))
    for replies in (known, unknown):
        assert [r.status_code for r in replies] == [401] * 5 + [429, 429]
        assert 50 <= int(replies[-1].headers["retry-after"]) <= 60
    assert known[0].text.replace("dana", "") == unknown[0].text.replace("nobody-here", "")
    locked = {t for a, _, t in audit_actions(console) if a == "sign_in_locked"}
    assert {"user dana", "user nobody-here"} <= locked


def test_an_unknown_name_costs_one_password_check_like_a_known_one(console):
    """No user enumeration by timing: a name that does not exist still runs one argon2 check
    (against a dummy hash), as a wrong password for a real user does."""
    hasher = console["hasher"]

    async def one(name: str, host: int) -> int:
        before = hasher.calls
        async with client(console, host) as web:
            reply, _ = await sign_in(web, name, "wrong-password")
        assert reply.status_code == 401
        return hasher.calls - before

    assert asyncio.run(one("lee", 90)) == asyncio.run(one("no-such-user", 91)) == 1


def test_health_answers_while_forty_sign_ins_are_in_flight(console):
    """40 wrong sign-ins at once from 40 addresses, 40 names (no lockout applies): at most two
    argon2 checks run at a time and eight wait; the rest are refused at once (503). Memory does
    not grow by a 64 MiB hash per attempt, /health keeps answering, and a right password from
    yet another address signs in afterwards."""
    hasher = console["hasher"]
    hasher.peak = 0
    baseline = rss_mb()
    health: list[float] = []
    peak_rss = [baseline]

    async def flood():
        clients = [client(console, 100 + i) for i in range(40)]
        done = asyncio.Event()

        async def watch():
            async with httpx.AsyncClient(base_url=console["url"], timeout=30) as web:
                while not done.is_set():
                    started = time.monotonic()
                    assert (await web.get("/health")).status_code == 200
                    health.append(time.monotonic() - started)
                    peak_rss.append(rss_mb())
                    await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.2)
        try:
            replies = await asyncio.gather(*(sign_in(c, f"crowd{i}", "wrong") for i, c in enumerate(clients)))
        finally:
            done.set()
            await watcher
            for c in clients:
                await c.aclose()
        async with client(console, 200) as other:
            return replies, await sign_in(other, "lee", PASSWORD)

    replies, (good, _) = asyncio.run(flood())
    codes = [r.status_code for r, _ in replies]
    assert codes.count(401) >= 10 and codes.count(503) >= 20 and set(codes) == {401, 503}, codes
    busy = [s for r, s in replies if r.status_code == 503]
    assert max(busy) < 2.0 and all(r.headers["retry-after"] == "1" for r, _ in replies if r.status_code == 503)
    assert hasher.peak <= 2
    assert len(health) >= 3 and statistics.median(health) < 0.1 and max(health) < 1.0, health
    assert max(peak_rss) - baseline < 600, (baseline, max(peak_rss))  # 40 x 64 MiB was 2.5 GB
    assert good.status_code == 303


def test_failures_back_off_growing_reset_on_success_and_stay_bounded():
    """The tables themselves, on a clock the test moves: lockouts double up to the maximum,
    attempts in flight count, a success forgets, and rotating keys never grow a table past
    its bound."""
    now = [1000.0]
    policy = SignInPolicy(max_failures=5, window_s=300, lockout_s=60, lockout_max_s=200, verify_workers=2,
                          verify_queue=8, tracked_max=1000)
    table = FailureTable("address", policy, clock=lambda: now[0])
    for expected in (60, 120, 200, 200):  # doubling, capped
        for n in range(5):
            assert table.wait_s("a") == 0
            table.begin("a")
            lock = table.failed("a")
        assert lock is not None and lock.seconds == expected and lock.failures == 5
        assert table.wait_s("a") == pytest.approx(expected)
        now[0] += expected
    table.succeeded("a")
    assert table.wait_s("a") == 0 and len(table) == 0

    for _ in range(4):  # failures older than the window do not count
        table.begin("b")
        table.failed("b")
    now[0] += 301
    table.begin("b")
    assert table.failed("b") is None

    for _ in range(5):  # five in flight at once: the sixth waits for them
        table.begin("c")
    assert table.wait_s("c") > 0
    table.abandoned("c")
    assert table.wait_s("c") == 0

    for n in range(50_000):  # an attacker rotating names
        table.begin(f"name-{n}")
        table.failed(f"name-{n}")
    assert len(table) == 1000

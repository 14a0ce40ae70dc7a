"""The media-stream server's front doors under load (issue 19, items 3 and 7): sockets that
never start are capped (per address, 4429; in all, 1013) and closed at the start deadline;
calls beyond the cap are refused at once (1013, audited); a call whose media stops is ended
as a dropped line with its record written.

The real server (uvicorn on loopback, `create_app` with warmed models) and raw WebSocket
clients over real sockets, each bound to a loopback address of its own (127.0.0.N), so
"another address" is another TCP peer.  Valid calls speak Twilio Media Streams: they stream
20 ms of mu-law silence in real time and listen for the bot's greeting.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from itertools import count

import httpx
import pytest
import websockets

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import free_port, record_of, serving
from voicebot.records.audit import recent
from voicebot.records.models import Call, Turn
from voicebot.server import ServerSettings, create_app

TOKEN = "admission-token"
START_TIMEOUT_S = 3.0   # the default
MEDIA_TIMEOUT_S = 2.0
PER_ADDRESS, OPENING = 4, 12
SILENCE = base64.b64encode(b"\xff" * 160).decode()  # 20 ms of mu-law silence
_sids = count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    records = tmp_path_factory.mktemp("admission")
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=[TOKEN],
                              call_date=CALL_DATE, handoff_timeout_s=0, start_timeout_s=START_TIMEOUT_S,
                              max_opening_streams=OPENING, max_opening_streams_per_address=PER_ADDRESS,
                              max_calls=1, media_timeout_s=MEDIA_TIMEOUT_S)
    app = create_app(settings)
    port = free_port()
    with serving(app, port):
        yield {"ws": f"ws://127.0.0.1:{port}", "http": f"http://127.0.0.1:{port}", "records": records,
               "app": app}


def twilio_start(sid: str, account: str = "EN-EARLY-1") -> list[str]:
    start = {"streamSid": f"MZ{sid}", "callSid": sid, "accountSid": "ACtest", "customParameters": {"account": account},
             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}
    return [json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
            json.dumps({"event": "start", "sequenceNumber": "1", "start": start, "streamSid": f"MZ{sid}"})]


def media(sid: str) -> str:
    return json.dumps({"event": "media", "streamSid": f"MZ{sid}", "media": {"payload": SILENCE}})


async def held(url: str, host: int, messages: tuple[str, ...] = ()) -> tuple[int | None, str, float]:
    """Connect from 127.0.0.<host>, send `messages`, then wait: (close code, reason, seconds
    from the handshake to the server's close)."""
    async with websockets.connect(url, local_addr=(f"127.0.0.{host}", 0), open_timeout=20, close_timeout=2) as ws:
        opened = time.monotonic()
        for message in messages:
            await ws.send(message)
        try:
            await asyncio.wait_for(ws.wait_closed(), 30)
        except TimeoutError:
            return None, "still open after 30 s", time.monotonic() - opened
        return ws.close_code, ws.close_reason, time.monotonic() - opened


async def opening_count(http: str, wanted: int) -> dict:
    """/health once the server counts `wanted` streams opening (they are on their way), or
    after 5 s."""
    async with httpx.AsyncClient(timeout=10) as web:
        for _ in range(100):
            health = (await web.get(f"{http}/health")).json()
            if health.get("streams", {}).get("opening") == wanted:
                return health
            await asyncio.sleep(0.05)
    return health  # never counted: the assertions on what the sockets got will say why


class Caller:
    """A valid Twilio call from 127.0.0.1: streams silence in real time until `quiet()` or `hang_up()`."""

    def __init__(self, server, account: str = "EN-EARLY-1", streaming: bool = True):
        self.url, self.sid, self.account = f"{server['ws']}/media/twilio?token={TOKEN}", f"CA{next(_sids)}", account
        self.ws = None
        self.bot_audio = asyncio.Event()
        self.streaming = streaming
        self.last_sent = 0.0
        self._tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> "Caller":
        self.ws = await websockets.connect(self.url, open_timeout=20, close_timeout=2)
        for message in twilio_start(self.sid, self.account):
            await self.ws.send(message)
        self.started = time.monotonic()
        self._tasks = [asyncio.create_task(self._send()), asyncio.create_task(self._listen())]
        return self

    async def _send(self) -> None:
        with_message = media(self.sid)
        while self.streaming:
            try:
                await self.ws.send(with_message)
            except websockets.ConnectionClosed:
                return
            self.last_sent = time.monotonic()
            await asyncio.sleep(0.02)

    async def _listen(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, str) and json.loads(message).get("event") == "media":
                    self.bot_audio.set()
        except websockets.ConnectionClosed:
            pass

    async def greeted_within(self, seconds: float) -> float:
        await asyncio.wait_for(self.bot_audio.wait(), seconds)
        return time.monotonic() - self.started

    def quiet(self) -> None:
        self.streaming = False

    async def closed_by_server(self, seconds: float) -> tuple[int | None, str]:
        await asyncio.wait_for(self.ws.wait_closed(), seconds)
        return self.ws.close_code, self.ws.close_reason

    async def __aexit__(self, *exc) -> None:
        self.streaming = False
        await self.ws.close()
        for task in self._tasks:
            task.cancel()


def finished(server, caller: Caller) -> dict:
    """The call's record, once written (the call slot is free again then)."""
    return record_of(server["records"], caller.sid)


def test_idle_sockets_are_capped_per_address_and_in_all_and_closed_at_the_deadline(server):
    twilio, pcm = f"{server['ws']}/media/twilio", f"{server['ws']}/media/pcm?token={TOKEN}"

    async def scenario():
        own_share = [asyncio.create_task(held(twilio, 2)) for _ in range(PER_ADDRESS)]
        await opening_count(server["http"], PER_ADDRESS)
        beyond = await asyncio.gather(*(held(twilio, 2) for _ in range(20)))
        others = [asyncio.create_task(held(twilio, host)) for host in (3, 3, 3, 3, 4, 4, 4, 4)]
        await opening_count(server["http"], OPENING)
        # A carrier's socket with a valid token takes no opening slot: a flood cannot keep it out
        # (it still has the start deadline).
        others.append(asyncio.create_task(held(pcm, 6)))
        crowd = await asyncio.gather(*(held(twilio, 5) for _ in range(5)))
        async with httpx.AsyncClient(timeout=10) as web:
            started = time.monotonic()
            health = (await web.get(f"{server['http']}/health")).json()
            health_s = time.monotonic() - started
        return await asyncio.gather(*own_share), beyond, await asyncio.gather(*others), crowd, health, health_s

    own_share, beyond, others, crowd, health, health_s = asyncio.run(scenario())
    # An address past its share is refused at once; then the whole server is full for everyone.
    assert {code for code, _, _ in beyond} == {4429} and max(s for _, _, s in beyond) < 1.0, beyond
    assert "too many streams opening from your address" in beyond[0][1]
    assert {code for code, _, _ in crowd} == {1013} and max(s for _, _, s in crowd) < 1.0, crowd
    refused = health.get("streams", {}).get("refused", {})
    assert health_s < 0.5 and refused.get("opening_per_address", 0) >= 20 and refused.get("opening", 0) >= 5
    # The idle ones are closed at the start deadline: unauthenticated Twilio 4401, PCM 4408.
    for code, _, seconds in own_share + others[:-1]:
        assert code == 4401 and START_TIMEOUT_S - 0.2 < seconds < START_TIMEOUT_S + 1.5, (code, seconds)
    code, reason, seconds = others[-1]
    assert code == 4408 and "no start message" in reason and seconds < START_TIMEOUT_S + 1.5


def test_health_and_a_valid_call_get_through_an_idle_flood(server):
    twilio = f"{server['ws']}/media/twilio"

    async def scenario():
        flood = [asyncio.create_task(held(twilio, 6)) for _ in range(200)]
        await opening_count(server["http"], PER_ADDRESS)
        health = []
        async with httpx.AsyncClient(timeout=10) as web, Caller(server) as caller:
            for _ in range(10):
                started = time.monotonic()
                assert (await web.get(f"{server['http']}/health")).status_code == 200
                health.append(time.monotonic() - started)
            greeted_s = await caller.greeted_within(20)
        return await asyncio.gather(*flood), health, greeted_s, caller

    flood, health, greeted_s, caller = asyncio.run(scenario())
    codes = [code for code, _, _ in flood]
    assert codes.count(4401) == PER_ADDRESS and codes.count(4429) == 200 - PER_ADDRESS
    assert max(s for code, _, s in flood if code == 4429) < 2.0
    assert max(health) < 1.0, health
    assert greeted_s < 10, greeted_s
    assert finished(server, caller)["ended_by"] == "carrier"


def test_a_call_beyond_the_cap_is_refused_at_once_and_audited(server):
    async def scenario():
        async with Caller(server) as first:
            await first.greeted_within(20)
            async with httpx.AsyncClient(timeout=10) as web:
                during = (await web.get(f"{server['http']}/health")).json()
            second = Caller(server, account="EN-MID-1")
            sent = time.monotonic()
            refused = await held(second.url, 1, tuple(twilio_start(second.sid, second.account)))
            refused_s = time.monotonic() - sent
        finished(server, first)
        async with Caller(server) as third:  # the slot is free again
            third_greeted = await third.greeted_within(20)
        finished(server, third)
        return during, refused, refused_s, third_greeted

    during, (code, reason, _), refused_s, third_greeted = asyncio.run(scenario())
    assert code == 1013 and "limit of 1 calls" in reason and refused_s < 1.0, (code, reason, refused_s)
    assert during["calls_in_progress"] == 1 and during.get("streams", {}).get("max_calls") == 1
    assert third_greeted < 10
    audit = [(e.username, e.action, e.target) for e in recent(server["app"].state.records)]
    assert ("server", "call_refused", "EN-MID-1") in audit


def _stored(server, call_id: str) -> tuple[Call, list[Turn]]:
    store = server["app"].state.records
    store.flush()
    with store.session() as db:
        call = db.get(Call, call_id)
        turns = list(db.query(Turn).filter(Turn.call_id == call_id).order_by(Turn.index))
        db.expunge_all()
    return call, turns


@pytest.mark.parametrize("media_s", [1.0, 0.0], ids=["media-then-nothing", "start-then-nothing"])
def test_a_line_whose_media_stops_is_ended_as_dropped_and_recorded(server, media_s: float):
    async def scenario():
        async with Caller(server, streaming=media_s > 0) as caller:
            await asyncio.sleep(media_s)
            await caller.greeted_within(20)
            caller.quiet()
            stopped = caller.last_sent or caller.started
            code, reason = await caller.closed_by_server(MEDIA_TIMEOUT_S + 15)
            return caller, code, reason, time.monotonic() - stopped

    caller, code, reason, after_s = asyncio.run(scenario())
    assert code == 4408 and "no media" in reason, (code, reason)
    assert MEDIA_TIMEOUT_S - 0.3 < after_s < MEDIA_TIMEOUT_S + 3, after_s
    summary = finished(server, caller)
    assert summary["ended_by"] == "line_dropped" and summary["close"]["code"] == 4408
    assert summary["turns"] and summary["turns"][0]["bot_text"], summary["turns"]  # the greeting
    lines = [json.loads(line) for line in (server["records"] / f"{summary['call_id']}.jsonl").read_text().splitlines()]
    assert len([e for e in lines if e["type"] == "turn"]) == len(summary["turns"])
    call, turns = _stored(server, summary["call_id"])
    assert call is not None and call.outcome == summary["outcome"] and call.ended_at is not None
    assert len(turns) == len(summary["turns"])


def test_refusals_are_counted_and_logged_a_few_lines_per_flood():
    """A flood of refusals is one log line per kind every few seconds, with the count since."""
    from loguru import logger

    from voicebot.server.admission import LOG_EVERY_S, Admission, Refused

    now = [0.0]
    admission = Admission(max_opening=100, max_opening_per_address=1, max_calls=None, clock=lambda: now[0])
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="WARNING", format="{message}")
    try:
        with admission.opening_stream("10.0.0.1"):
            for _ in range(500):
                with pytest.raises(Refused) as refused, admission.opening_stream("10.0.0.1"):
                    pass
                assert refused.value.code == 4429
            now[0] += LOG_EVERY_S
            with pytest.raises(Refused), admission.opening_stream("10.0.0.1"):
                pass
        with admission.opening_stream("10.0.0.1"):  # released: the address may open again
            assert admission.snapshot()["opening"] == 1
    finally:
        logger.remove(sink)
    assert admission.snapshot()["refused"] == {"opening_per_address": 501} and admission.opening == 0
    assert len(lines) == 2 and "499 more refused since the last such line" in lines[1], lines

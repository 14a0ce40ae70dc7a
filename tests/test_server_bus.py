"""The media-stream server on a real Redis bus: human handoff inside a live call, and a
campaign whose calls are placed through a carrier and followed on the bus.

The server holds an escalated call while its context packet waits on the bus; agent desks in
this test's own process (their own Redis connections, as a desk on another machine would
have) race to claim it.  Claimed: the carrier transfers the call to the winning agent's
endpoint.  Unclaimed: the bot says nobody is free, takes a callback time and closes; the
packet stays on the bus with that time for the follow-up.

The campaign test places calls with the LocalProvider (which plays the callee over the real
WebSocket) and learns each outcome from the server's call.started/call.ended events.

Every call runs in real time (45-60 s), so the module's calls are placed at the same time, on
the one server (`finished` below), and each test asserts on its own call's result.
"""

from __future__ import annotations

import asyncio

import pytest

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import calls_at_once, free_port, outcome, record_of, serving, summaries
from telephony.bus.redis_bus import RedisBus
from telephony.campaign import CampaignWorker, InMemoryStore, ManualClock
from telephony.campaign.provider_dialer import ProviderDialer, local_callee
from telephony.handoff import HandoffQueue, PacketState
from voicebot.providers.local import LocalProvider
from voicebot.server import ServerSettings, create_app

TOKEN = "handoff-token"
HOLD_S = 6.0


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url, module_redis_prefix):
    port = free_port()
    base = f"ws://127.0.0.1:{port}"
    records = tmp_path_factory.mktemp("calls")
    carrier = LocalProvider(base, token=TOKEN, debtor_voice="en-kate")
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=[TOKEN],
                              call_date=CALL_DATE, handoff_timeout_s=HOLD_S)
    app = create_app(settings, provider=carrier, bus=RedisBus(redis_url, prefix=module_redis_prefix))
    with serving(app, port):
        yield {"records": records, "carrier": carrier, "base": base,
               "desk_bus": lambda: RedisBus(redis_url, prefix=module_redis_prefix)}


async def desk(bus: RedisBus, agent: str, account: str) -> tuple[str, bool]:
    """An agent desk: wait for the account's packet to be queued, then try to claim it.

    A desk that first looks after another has claimed it has lost (on a busy machine one desk's
    poll can come late)."""
    queue = HandoffQueue(bus)
    while True:
        queued = [e for e in await queue.entries() if e.packet.account_id == account]
        if queued and queued[0].state != PacketState.WAITING:
            return agent, False
        if queued:
            attempt = await queue.claim(queued[0].call_id, agent, endpoint=f"sip:{agent}@desk.example")
            return agent, attempt.won
        await asyncio.sleep(0.05)


# -- the calls, placed at once; each test below asserts on its own ----------------------------
async def claimed_handoff(server):
    carrier: LocalProvider = server["carrier"]
    desks = [server["desk_bus"]() for _ in range(2)]
    claims = [asyncio.create_task(desk(b, name, "EN-EARLY-1")) for b, name in zip(desks, ("ana", "ben"))]
    placed = await carrier.place_call("+15550100", "EN-EARLY-1",
                                      debtor="yes this is John|can I speak to a real person please")
    result = await carrier.wait(placed.call_id, timeout=120)
    won = dict(await asyncio.gather(*claims))
    entries = await HandoffQueue(desks[0]).entries()
    for b in desks:
        await b.aclose()
    return result, won, entries


async def unclaimed_handoff(server):
    carrier: LocalProvider = server["carrier"]
    placed = await carrier.place_call(
        "+15550100", "EN-MID-1",
        debtor="yes this is Maria|I want to talk to a person|<silence>|call me back tomorrow please")
    result = await carrier.wait(placed.call_id, timeout=150)
    bus = server["desk_bus"]()
    entries = await HandoffQueue(bus).entries()
    await bus.aclose()
    return result, entries


async def hang_up_on_hold(server):
    carrier: LocalProvider = server["carrier"]
    placed = await carrier.place_call("+15550100", "EN-LATE-1",
                                      debtor="yes this is David|get me a real person|<hangup>")
    result = await carrier.wait(placed.call_id, timeout=120)
    bus = server["desk_bus"]()
    await asyncio.sleep(1.0)  # the server notices the hang-up and settles the packet
    entries = await HandoffQueue(bus).entries()
    await bus.aclose()
    return result, entries


async def campaign_through_the_provider(server, accounts):
    from datetime import datetime

    rows = []
    # The server knows these accounts; the sim_* columns script the callee the carrier plays.
    for base, extra in (("EN-EARLY-1", {"sim_debtor": "yes this is John|I will pay it on Friday|yes"}),
                        ("EN-MID-1", {"sim_answer": "no_answer"})):
        data = accounts[base].model_dump(mode="json")
        data.update(**extra)
        rows.append(type(accounts[base]).model_validate(data))
    carrier = LocalProvider(server["base"], token=TOKEN, debtor_voice="en-kate")
    clock = ManualClock(datetime.fromisoformat("2026-11-23T10:00:00-08:00"))
    store = InMemoryStore()
    bus = server["desk_bus"]()
    dialer = ProviderDialer(carrier, bus, ring_s=20, max_call_s=120, place_extra=local_callee)
    worker = CampaignWorker(store, dialer, "through-carrier", clock=clock, worker_id="w1")
    try:
        await worker.run(rows)
    finally:
        await bus.aclose()
    return store


@pytest.fixture(scope="module")
def finished(request, server, accounts):
    return calls_at_once(request, {
        "test_claimed_handoff_transfers_to_the_winning_agent": lambda: claimed_handoff(server),
        "test_unclaimed_handoff_takes_a_callback_time": lambda: unclaimed_handoff(server),
        "test_hanging_up_on_hold_abandons_the_handoff": lambda: hang_up_on_hold(server),
        "test_campaign_places_calls_through_the_provider": lambda: campaign_through_the_provider(server, accounts),
    })


def test_claimed_handoff_transfers_to_the_winning_agent(server, finished):
    carrier: LocalProvider = server["carrier"]
    result, won, entries = outcome(finished, "test_claimed_handoff_transfers_to_the_winning_agent")
    winners = [agent for agent, ok in won.items() if ok]
    assert len(winners) == 1, won  # claimed once and only once
    summary = record_of(server["records"], result.call_id)
    assert summary["outcome"] == "escalated"
    assert "handoff:claimed" in summary["tags"]
    transfer = summary["carrier_actions"][0]
    assert (transfer["kind"], transfer["status"], transfer["agent_id"]) == ("transfer", "done", winners[0])
    assert transfer["to"] == f"sip:{winners[0]}@desk.example"
    assert [t["to"] for t in carrier.transfers if t["call_id"] == result.call_id] == [transfer["to"]]
    assert result.status == "transferred"
    entry = next(e for e in entries if e.call_id == summary["call_id"])
    assert (entry.state, entry.claimed_by) == (PacketState.CLAIMED, winners[0])
    # The agent's packet carries the conversation so far, with intent tags.
    said = [(line.speaker, line.intent) for line in entry.packet.transcript if line.speaker == "debtor"]
    assert said == [("debtor", "confirm_identity"), ("debtor", "request_human")]


def test_unclaimed_handoff_takes_a_callback_time(server, finished):
    carrier: LocalProvider = server["carrier"]
    result, entries = outcome(finished, "test_unclaimed_handoff_takes_a_callback_time")
    summary = record_of(server["records"], result.call_id)
    kinds = [t["kind"] for t in summary["turns"]]
    assert "no_agent" in kinds, kinds
    no_agent = summary["turns"][kinds.index("no_agent")]
    assert "busy" in no_agent["bot_text"] and no_agent["end"] is False
    assert summary["outcome"] == "callback", summary["outcome"]
    assert summary["details"]["callback_time"] == "2026-11-24"
    assert {"handoff:unclaimed", "escalated:request_human"} <= set(summary["tags"])
    # No transfer reached the carrier; the record says why.
    assert not [t for t in carrier.transfers if t["call_id"] == result.call_id]
    transfer = next(a for a in summary["carrier_actions"] if a["kind"] == "transfer")
    assert transfer["status"].startswith("cancelled: no agent")
    assert result.status == "completed"
    entry = next(e for e in entries if e.call_id == summary["call_id"])
    assert entry.state == PacketState.UNCLAIMED and entry.packet.callback_time == "2026-11-24"
    held = next(e for e in summary["event_log"] if e["kind"] == "handoff_unclaimed")
    assert HOLD_S - 0.5 <= held["waited_s"] <= HOLD_S + 3



def test_hanging_up_on_hold_abandons_the_handoff(server, finished):
    """The debtor leaves while waiting: no agent may pick up a dead line, nothing is transferred."""
    carrier: LocalProvider = server["carrier"]
    result, entries = outcome(finished, "test_hanging_up_on_hold_abandons_the_handoff")
    summary = record_of(server["records"], result.call_id)
    assert summary["ended_by"] == "carrier"
    entry = next(e for e in entries if e.call_id == summary["call_id"])
    assert entry.state == PacketState.ABANDONED
    assert not [t for t in carrier.transfers if t["call_id"] == result.call_id]


# -- a campaign through the carrier ---------------------------------------------------------
def test_campaign_places_calls_through_the_provider(server, finished):
    store = outcome(finished, "test_campaign_places_calls_through_the_provider")
    calls = {c.account_id: c for c in store.calls("through-carrier")}
    assert (calls["EN-EARLY-1"].status, calls["EN-EARLY-1"].outcome) == ("answered", "promise_to_pay")
    assert (calls["EN-MID-1"].status, calls["EN-MID-1"].outcome) == ("no_answer", None)
    # The outcome came from the served call: its record is the one the server wrote.
    record = next(s for s in summaries(server["records"]) if s["call_id"] == calls["EN-EARLY-1"].session_call_id)
    assert record["account"] == "EN-EARLY-1" and record["outcome"] == "promise_to_pay"
    assert store.state("through-carrier", "EN-MID-1").final is None  # a retry is scheduled

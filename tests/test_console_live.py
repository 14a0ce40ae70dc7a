"""The console's live board on the real in-process bus and a real store, without a browser:
calls already running when the console starts are picked up from the store, new calls from
the bus, and every turn shows once, in order, whichever path brought it."""

from __future__ import annotations

import asyncio

from conftest import CALL_DATE
from telephony.bus.live import CallFeed
from telephony.bus.memory import InProcessBus
from voicebot.console.live import LiveBoard
from voicebot.console.scripts_view import transfer_queues
from voicebot.records import RecordStore, attach_session


async def _until(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "the board never showed it"
        await asyncio.sleep(0.02)


def test_board_follows_calls_from_the_store_and_the_bus(engines, accounts, tmp_path):
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    engine = engines["en"]

    async def scenario():
        bus = InProcessBus()
        # A call that was already talking before the console started: only the store knows it.
        early = engine.start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
        attach_session(store, early)
        early.open()
        early.hear("yes this is John")
        await asyncio.to_thread(store.flush)
        board = LiveBoard(bus, store)
        await board.start()
        await _until(lambda: early.call_id in board.calls and len(board.calls[early.call_id].turns) == 2)
        # A call that starts now is announced on the bus, turn by turn.
        late = engine.start_call(accounts["EN-LATE-1"], today=CALL_DATE)
        attach_session(store, late)
        feed = CallFeed(bus, late)
        await feed.start()
        late.open()
        late.hear("yes this is David")
        await _until(lambda: late.call_id in board.calls and len(board.calls[late.call_id].turns) == 2)
        live = {c["call_id"]: c for c in board.snapshot()}
        assert live[late.call_id]["ongoing"] and live[early.call_id]["ongoing"]
        assert [t["debtor_text"] for t in live[late.call_id]["turns"]] == [None, "yes this is David"]
        assert live[early.call_id]["turns"][1]["intent"] == "confirm_identity"
        late.hear("let me talk to a real person")
        await feed.end()
        await _until(lambda: late.call_id not in board._tasks)  # its follower read the last turns
        ended = {c["call_id"]: c for c in board.snapshot()}[late.call_id]
        assert not ended["ongoing"] and ended["outcome"] == "escalated"
        assert [t["index"] for t in ended["turns"]] == [0, 1, 2]
        await board.stop()

    asyncio.run(scenario())
    store.close()


def test_a_turn_whose_event_was_lost_is_read_from_the_store_when_the_next_one_arrives(
        engines, accounts, tmp_path):
    """The board reads the store only on joining, on a gap and at the end (not every quiet
    second of every call): a turn the bus dropped shows up with the turn after it."""
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    engine = engines["en"]

    async def scenario():
        bus = InProcessBus()
        board = LiveBoard(bus, store)
        await board.start()
        call = engine.start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
        attach_session(store, call)
        feed = CallFeed(bus, call)
        await feed.start()
        call.open()
        call.hear("yes this is John")
        await _until(lambda: call.call_id in board.calls and len(board.calls[call.call_id].turns) == 2)
        await asyncio.sleep(1.5)  # past the follower's settling read after joining
        call.listeners.remove(feed._on_turn)  # the bus loses this turn's event
        call.hear("how much do I owe")
        await asyncio.to_thread(store.flush)
        await asyncio.sleep(2.5)  # quiet seconds: no catch-up without a reason
        assert sorted(board.calls[call.call_id].turns) == [0, 1]
        call.listeners.append(feed._on_turn)
        call.hear("I can pay on Friday")
        await _until(lambda: sorted(board.calls[call.call_id].turns) == [0, 1, 2, 3])
        assert board.calls[call.call_id].turns[2]["debtor_text"] == "how much do I owe"
        assert board.calls[call.call_id].ended is None  # filled while the call goes on
        await feed.end()
        await board.stop()

    asyncio.run(scenario())
    store.close()


def test_the_live_page_watches_every_queue_the_scripts_transfer_to():
    queues = transfer_queues()
    assert "collections" in queues and list(queues) == sorted(set(queues))


def test_the_bus_keeps_no_trace_of_the_calls_the_board_followed(engines, accounts, tmp_path):
    """The board subscribes to each call's own channel and leaves it when the call ends: after
    twenty calls the in-process bus holds the calls channel's subscriber only, not an empty
    entry per call (a server up for weeks follows millions of calls)."""
    records = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    bus = InProcessBus()

    async def follow_calls(count: int) -> list[str]:
        board = LiveBoard(bus, records)
        await board.start()
        for session in (engines["en"].start_call(accounts["EN-LATE-1"], today=CALL_DATE) for _ in range(count)):
            attach_session(records, session)
            feed = CallFeed(bus, session)
            await feed.start()
            session.open()
            await _until(lambda: session.call_id in board._tasks)
            await feed.end()
            await _until(lambda: session.call_id not in board._tasks)
        left = sorted(bus._subscribers)
        await board.stop()
        return left

    channels = asyncio.run(follow_calls(20))
    records.close()
    assert len(channels) == 1, channels  # the calls channel; no call's channel is left behind

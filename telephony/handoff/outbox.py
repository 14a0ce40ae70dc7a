"""Handoff packets the agent queue could not take, kept on local disk until it can.

A debtor who asks for a person while the bus (Redis) is down must not vanish from the queue.
The call goes on: nobody can be asked, so the bot says its colleagues are busy and takes a
callback time.  The packet, with what became of it (`unclaimed`: nobody could take it in
time; `abandoned`: the debtor hung up on hold) and, later, the callback time, is appended
here before anything else happens.  `deliver` files each one in its queue once the bus
answers, already decided (`HandoffQueue.file_decided`), so the console's supervisors see it
for follow-up and no desk is offered a call that has ended.  The same happens to a packet the
queue took but whose decision or callback time it could not record (the bus died during the
hold): delivering is idempotent, and a decision already on the bus (an agent's claim) stands.

The file is JSON lines: {"packet": {...}, "state": "unclaimed", "waited_s": 3.2} for a packet
(a later line for the same call supersedes an earlier one), {"delivered": call_id, "seq": n}
once line n reached the queue.  It is emptied when nothing waits: packets carry transcripts
and stay no longer than needed.  An append is one write under `flock`, then `fsync`, as in the
opt-out journal (telephony/campaign/opt_out_journal.py): once `keep` returns, the packet
survives a SIGKILL of the server, whose next start delivers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

from loguru import logger

from telephony.bus.base import Bus, BusError
from telephony.handoff.packet import HandoffPacket
from telephony.handoff.queue import HandoffQueue, PacketState

OUTBOX_NAME = "handoff-outbox.jsonl"
RETRY_S = (0.5, 1.0, 2.0, 5.0)  # between delivery attempts while the bus stays away


class HandoffOutbox:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._task: asyncio.Task | None = None

    # -- writing --------------------------------------------------------------------------
    def keep(self, packet: HandoffPacket, state: PacketState, waited_s: float = 0.0) -> None:
        """Make the packet durable here (OSError if the disk refuses: the caller must say so)."""
        self._append({"packet": packet.model_dump(mode="json"), "state": PacketState(state).value,
                      "waited_s": round(waited_s, 3)})

    def _append(self, item: dict[str, Any]) -> None:
        line = (json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock, self._locked() as fd:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a writer died mid-line: do not glue this one onto it
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)

    @contextlib.contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # other server processes sharing the folder wait
            yield fd
        finally:
            os.close(fd)  # releases the flock

    # -- reading --------------------------------------------------------------------------
    def _lines(self) -> list[dict[str, Any]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        items = []
        for raw in data[:data.rfind(b"\n") + 1].splitlines():  # a line being written waits
            try:
                items.append(json.loads(raw) if raw.strip() else {})
            except ValueError:
                logger.warning(f"handoff outbox {self.path}: skipping a damaged line: {raw[:80]!r}")
                items.append({})  # keeps the line numbers the delivered markers refer to
        return items

    def pending(self) -> list[tuple[int, dict[str, Any]]]:
        """(line number, item) of each call's latest packet not yet delivered."""
        latest: dict[str, tuple[int, dict[str, Any]]] = {}
        delivered: dict[str, int] = {}
        for seq, item in enumerate(self._lines()):
            if "delivered" in item:
                delivered[item["delivered"]] = max(delivered.get(item["delivered"], -1), item.get("seq", -1))
            elif isinstance(item.get("packet"), dict) and item["packet"].get("call_id"):
                latest[item["packet"]["call_id"]] = (seq, item)
        return [(seq, item) for call_id, (seq, item) in latest.items() if delivered.get(call_id, -1) < seq]

    def add_callback(self, call_id: str, when: str) -> bool:
        """Put the callback time on the call's packet if it still waits here (False if not)."""
        for _, item in self.pending():
            if item["packet"]["call_id"] == call_id:
                self._append({**item, "packet": {**item["packet"], "callback_time": when}})
                return True
        return False

    # -- delivering -----------------------------------------------------------------------
    async def deliver(self, bus: Bus) -> tuple[int, set[int]]:
        """File every waiting packet in its queue: (how many were filed, the lines that cannot
        be: not a packet, logged and left in the file for a person).  Bus errors reach the
        caller; what was filed before stays marked delivered."""
        filed, unusable = 0, set()
        for seq, item in self.pending():
            try:
                packet = HandoffPacket.model_validate(item["packet"])
                queue, state = HandoffQueue(bus, packet.queue), PacketState(item["state"])
            except (ValueError, KeyError) as exc:  # pydantic's ValidationError is a ValueError
                logger.error(f"handoff outbox {self.path}: line {seq + 1} is not a packet to file: {exc}")
                unusable.add(seq)
                continue
            await queue.file_decided(packet, state, waited_s=item.get("waited_s", 0.0))
            self._append({"delivered": packet.call_id, "seq": seq})
            filed += 1
        self._empty_if_done()
        return filed, unusable

    def _empty_if_done(self) -> None:
        with self._lock, self._locked() as fd:  # no other writer between the check and the cut
            if os.fstat(fd).st_size and not self.pending():
                os.ftruncate(fd, 0)
                os.fsync(fd)

    def start_delivering(self, bus: Bus) -> None:
        """Deliver in the background, retrying, until nothing waits (the bus may be away for a
        while).  Nothing to do: nothing started; a delivery already running: left to run."""
        if self._task is not None and not self._task.done():
            return
        if not self.path.exists() or not self.pending():
            return
        self._task = asyncio.get_running_loop().create_task(self._deliver_until_empty(bus),
                                                            name="handoff-outbox")

    async def _deliver_until_empty(self, bus: Bus) -> None:
        attempt = 0
        while True:
            try:
                filed, unusable = await self.deliver(bus)
                if filed:
                    logger.warning(f"handoff outbox {self.path}: {filed} packet(s) the agent queue could not "
                                   "take at the time are in it now, for follow-up")
                if all(seq in unusable for seq, _ in self.pending()):  # none kept since this round
                    return
                continue
            except BusError as exc:
                if attempt == 0:
                    logger.warning(f"handoff outbox {self.path}: the agent queue is still away ({exc}); retrying")
            except OSError as exc:  # the disk refused a delivered marker: filing again is harmless
                logger.error(f"handoff outbox {self.path}: {exc}; retrying")
            await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
            attempt += 1

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

A packet waiting here holds the debtor's name and words, so an erasure (`voicebot records
erase`) and the retention purge reach it too (`erase_where`).  Erasing replaces each of its
lines with {"erased": call_id}, so the line numbers the delivered markers name stay true, and
writes the result beside the file and renames it over, under the same lock; every writer
checks, once it holds the lock, that the file it opened is still the one at the path (else it
opens the new one), so no append lands in a replaced file.  A delivery already in flight when
the erasure runs files the packet in the queue, then finds, under the lock, its line erased:
it takes the packet back out of the queue instead of marking it delivered.  A packet filed
before the erasure is on the bus, where the same erasure sweeps it (telephony/handoff/retention.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import stat
import threading
from collections.abc import Callable
from datetime import datetime
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
        with self._lock, self._locked() as fd:
            _write_line(fd, item)

    @contextlib.contextmanager
    def _locked(self):
        """The file, opened and locked; reopened if an erasure renamed a new one over it
        while this process waited for the lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)  # other server processes sharing the folder wait
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                break
            os.close(fd)
        try:
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

    def _still_kept(self, seq: int) -> bool:
        """Is line `seq` still a packet (not erased since it was read)?"""
        lines = self._lines()
        return seq < len(lines) and "packet" in lines[seq]

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
            if not self._still_kept(seq):
                continue  # erased since `pending` read it
            await queue.file_decided(packet, state, waited_s=item.get("waited_s", 0.0))
            if not self._mark_delivered(packet.call_id, seq):
                await queue.remove(packet.call_id)  # erased while it was being filed: the erasure stands
                logger.warning(f"handoff outbox {self.path}: the packet of call {packet.call_id} was erased "
                               "while it was being filed; taken back out of the queue")
                continue
            filed += 1
        self._empty_if_done()
        return filed, unusable

    def _mark_delivered(self, call_id: str, seq: int) -> bool:
        """Append the delivered marker, unless line `seq` was erased meanwhile (False)."""
        with self._lock, self._locked() as fd:  # an erasure cannot rename between the check and the write
            if not self._still_kept(seq):
                return False
            _write_line(fd, {"delivered": call_id, "seq": seq})
            return True

    # -- erasing --------------------------------------------------------------------------
    def erase_where(self, doomed: Callable[[dict[str, Any]], bool], *, dry_run: bool = False) -> list[str]:
        """Erase every packet line whose packet (as JSON) `doomed` picks: the call ids whose
        packets went (would go, in a dry run).  OSError if the disk refuses."""
        if not self.path.exists():
            return []
        with self._lock, self._locked() as fd:
            size = os.fstat(fd).st_size
            data = os.pread(fd, size, 0) if size else b""
            complete = data.rfind(b"\n") + 1  # a torn last line (a writer killed) stays as it is
            kept: list[bytes] = []
            erased: list[str] = []
            for raw in data[:complete].splitlines():
                packet = _packet_of(raw)
                if packet is not None and doomed(packet):
                    call_id = str(packet.get("call_id"))
                    if call_id not in erased:
                        erased.append(call_id)
                    raw = json.dumps({"erased": call_id}).encode("utf-8")
                kept.append(raw + b"\n")
            if erased and not dry_run:
                fresh = self.path.with_name(self.path.name + ".erasing")
                _write_file(fresh, b"".join(kept) + data[complete:], like=os.fstat(fd))
                _rename_durably(fresh, self.path)  # writers waiting on the old file reopen the new one
        if erased and not dry_run:
            self._empty_if_done()  # nothing else waits: not even the erased markers stay
        return erased

    def erase_account(self, account_id: str, *, dry_run: bool = False) -> list[str]:
        """Every packet of one account (right to erasure): the call ids erased."""
        return self.erase_where(lambda packet: packet.get("account_id") == account_id, dry_run=dry_run)

    def purge_before(self, cutoff: datetime, *, dry_run: bool = False) -> list[str]:
        """Every packet created before `cutoff` (retention): the call ids erased.  A packet
        whose time cannot be read goes too: it cannot prove it is young enough to keep."""
        def old(packet: dict[str, Any]) -> bool:
            try:
                return datetime.fromisoformat(str(packet.get("created_at"))) < cutoff
            except (ValueError, TypeError):
                return True
        return self.erase_where(old, dry_run=dry_run)

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


def _write_line(fd: int, item: dict[str, Any]) -> None:
    """One line appended on a locked file, then fsync'd."""
    line = (json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8")
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        line = b"\n" + line  # a writer died mid-line: do not glue this one onto it
    view = memoryview(line)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _packet_of(raw: bytes) -> dict[str, Any] | None:
    """The packet a line holds, if it is a packet line."""
    try:
        item = json.loads(raw)
    except ValueError:
        return None
    packet = item.get("packet") if isinstance(item, dict) else None
    return packet if isinstance(packet, dict) else None


def _write_file(path: Path, data: bytes, like: os.stat_result) -> None:
    """`data` in a new file with the mode and, where allowed, the owner of `like` (an erasure
    run by another user than the server's must not lock the server out of its outbox)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, stat.S_IMODE(like.st_mode))
        with contextlib.suppress(PermissionError):
            os.fchown(fd, like.st_uid, like.st_gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _rename_durably(fresh: Path, path: Path) -> None:
    """`fresh` renamed over `path`, the rename itself fsync'd (the folder's entry)."""
    os.replace(fresh, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)

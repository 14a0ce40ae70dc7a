"""Where SMS go: a provider protocol with outbox implementations.  Nothing here reaches a
carrier; a JSONL file or a Redis stream holds what would be sent, for review, for a separate
sender process, or for a carrier provider (Twilio) plugged in behind the same protocol.

A kept message holds the debtor's phone number and the text about their debt, so every outbox
that keeps messages can give up those sent before a cut-off (`purge_before`, the retention
purge) or one account's (`erase_account`, the right to erasure); voicebot/records/retention.py
calls them.  A message's age is its `sent_at`, in every outbox alike.

The Redis stream outbox shares the campaign's client (`telephony.campaign.redis_client.connect`:
short timeouts), and an unreachable or stalled Redis raises `StoreUnavailable` naming the
stream, its address and what was being done.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Protocol

import redis

from telephony.campaign.clock import utc
from telephony.campaign.redis_client import describe, store_operation
from telephony.sms.models import SmsMessage

Doomed = Callable[[SmsMessage], bool]


class SmsSender(Protocol):
    def send(self, message: SmsMessage) -> None:
        """Hand the message over; raise if it could not be accepted (it will be retried)."""
        ...


class KeptOutbox(ABC):
    """An outbox that keeps what it is given, so retention and erasure must reach it."""

    @abstractmethod
    def read(self) -> list[SmsMessage]: ...

    @abstractmethod
    def remove_where(self, doomed: Doomed, *, dry_run: bool = False) -> int:
        """Remove the messages `doomed` picks; how many (a dry run: how many it would)."""

    def purge_before(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Remove the messages sent before `cutoff`."""
        cutoff = utc(cutoff)
        return self.remove_where(lambda message: message.sent_at < cutoff, dry_run=dry_run)

    def erase_account(self, account_id: str, *, dry_run: bool = False) -> int:
        """Remove every message to one account."""
        return self.remove_where(lambda message: message.account_id == account_id, dry_run=dry_run)


class FileOutbox(KeptOutbox):
    """Appends one JSON line per message.  Each line is one write on an O_APPEND file, so
    several processes can share the file without interleaving lines.

    Removing rewrites the file beside it and renames it over: appends hold a shared lock on
    `PATH.lock` and a removal holds it alone, so a line another process appends meanwhile is
    never left behind in the replaced file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(message.model_dump(mode="json"), ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock, self._file_lock(fcntl.LOCK_SH):
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def read(self) -> list[SmsMessage]:
        if not self.path.is_file():
            return []
        return [SmsMessage.model_validate_json(line) for line in self.path.read_text("utf-8").splitlines() if line]

    def remove_where(self, doomed: Doomed, *, dry_run: bool = False) -> int:
        if not self.path.is_file():
            return 0
        with self._lock, self._file_lock(fcntl.LOCK_EX):
            lines = [line for line in self.path.read_text("utf-8").splitlines(keepends=True) if line.strip()]
            kept = [line for line in lines if not doomed(SmsMessage.model_validate_json(line))]
            if not dry_run and len(kept) < len(lines):
                fresh = self.path.with_name(self.path.name + ".tmp")
                fresh.write_text("".join(kept), "utf-8")
                os.replace(fresh, self.path)
        return len(lines) - len(kept)

    @contextmanager
    def _file_lock(self, mode: int) -> Iterator[None]:
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)  # releases the lock


class RedisStreamOutbox(KeptOutbox):
    """XADD to a stream (default PREFIX:sms:outbox): fields account, to, trigger, json."""

    #: Entries read per XRANGE when a removal walks the stream (up to `maxlen` of them).
    batch = 500

    def __init__(self, client: redis.Redis, stream: str = "voicebot:sms:outbox", maxlen: int | None = 100_000):
        """`client`: from `redis_client.connect(url)` (decoded strings, short timeouts)."""
        self.r, self.stream, self.maxlen = client, stream, maxlen
        self.store_name, self.description = f"SMS outbox {stream}", describe(client)

    @store_operation("add a message")
    def send(self, message: SmsMessage) -> None:
        self.r.xadd(self.stream, {"account": message.account_id, "to": message.to or "",
                                  "trigger": message.trigger, "json": message.model_dump_json()},
                    maxlen=self.maxlen, approximate=True)

    @store_operation("read the messages")
    def read(self) -> list[SmsMessage]:
        return [_message(fields) for _, fields in self.r.xrange(self.stream)]

    @store_operation("remove messages")
    def remove_where(self, doomed: Doomed, *, dry_run: bool = False) -> int:
        ids = [entry_id for entry_id, fields in self._entries() if doomed(_message(fields))]
        if not dry_run:
            for start in range(0, len(ids), self.batch):
                self.r.xdel(self.stream, *ids[start:start + self.batch])
        return len(ids)

    def _entries(self) -> Iterator[tuple[str, dict]]:
        """The stream in batches, oldest first (a whole stream in one reply could be large)."""
        start = "-"
        while batch := self.r.xrange(self.stream, min=start, count=self.batch):
            yield from batch
            last = batch[-1][0]
            start = "(" + (last.decode() if isinstance(last, bytes) else last)


def _message(fields: dict) -> SmsMessage:
    return SmsMessage.model_validate_json(fields["json"] if "json" in fields else fields[b"json"])


class MemoryOutbox(KeptOutbox):
    """Keeps messages in a list (tests, dry runs)."""

    def __init__(self) -> None:
        self.messages: list[SmsMessage] = []

    def send(self, message: SmsMessage) -> None:
        self.messages.append(message)

    def read(self) -> list[SmsMessage]:
        return list(self.messages)

    def remove_where(self, doomed: Doomed, *, dry_run: bool = False) -> int:
        kept = [message for message in self.messages if not doomed(message)]
        removed = len(self.messages) - len(kept)
        if not dry_run:
            self.messages = kept
        return removed

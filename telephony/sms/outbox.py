"""Where SMS go: a provider protocol with outbox implementations.  Nothing here reaches a
carrier; a JSONL file or a Redis stream holds what would be sent, for review, for a separate
sender process, or for a carrier provider (Twilio) plugged in behind the same protocol."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Protocol

import redis

from telephony.sms.models import SmsMessage


class SmsSender(Protocol):
    def send(self, message: SmsMessage) -> None:
        """Hand the message over; raise if it could not be accepted (it will be retried)."""
        ...


class FileOutbox:
    """Appends one JSON line per message.  Each line is one write on an O_APPEND file, so
    several processes can share the file without interleaving lines."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(message.model_dump(mode="json"), ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def read(self) -> list[SmsMessage]:
        if not self.path.is_file():
            return []
        return [SmsMessage.model_validate_json(line) for line in self.path.read_text("utf-8").splitlines() if line]


class RedisStreamOutbox:
    """XADD to a stream (default PREFIX:sms:outbox): fields account, to, trigger, json."""

    def __init__(self, client: redis.Redis, stream: str = "voicebot:sms:outbox", maxlen: int | None = 100_000):
        self.r, self.stream, self.maxlen = client, stream, maxlen

    def send(self, message: SmsMessage) -> None:
        self.r.xadd(self.stream, {"account": message.account_id, "to": message.to or "",
                                  "trigger": message.trigger, "json": message.model_dump_json()},
                    maxlen=self.maxlen, approximate=True)

    def read(self) -> list[SmsMessage]:
        return [SmsMessage.model_validate_json(fields["json"] if "json" in fields else fields[b"json"])
                for _, fields in self.r.xrange(self.stream)]


class MemoryOutbox:
    """Keeps messages in a list (tests, dry runs)."""

    def __init__(self) -> None:
        self.messages: list[SmsMessage] = []

    def send(self, message: SmsMessage) -> None:
        self.messages.append(message)

    def read(self) -> list[SmsMessage]:
        return list(self.messages)

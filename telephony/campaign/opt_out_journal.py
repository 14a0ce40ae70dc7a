"""The opt-out journal: every "stop calling me" on a local disk before it goes anywhere else.

An opt-out is a legal obligation, and the shared stores can lose one: Redis can drop while a
call ends, a pub/sub `call.ended` event can be missed, a worker can be killed before it writes
back.  So whoever hears an opt-out (the campaign worker, the media-stream server) first appends
it here, then tells the store; and whoever starts a call asks this file as well as the store.

The file is JSON lines, one opt-out each:
    {"account": "ACC-17", "at": "2026-11-23T18:04:05+00:00", "source": "campaign:spring",
     "reason": "opted out on a call", "call_id": "4f0c..."}
A line is one `write` on a file opened for appending, under an exclusive `flock` (several
processes may share the file), followed by `fsync`: once `append` returns, the opt-out survives
a SIGKILL or a power cut.  A line torn by a crash mid-write is skipped when read (with a
warning), and the next append starts on a fresh line, so it never swallows a good one.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from loguru import logger

JOURNAL_NAME = "opt-outs.jsonl"
DEFAULT_JOURNAL = Path("var/calls") / JOURNAL_NAME  # beside the call records both CLIs default to


def journal_path(records_dir: Path | None = None, named: Path | None = None) -> Path:
    """`named` (the deployment's VOICEBOT_OPT_OUT_JOURNAL), else opt-outs.jsonl in the records
    folder: the server and the campaign CLI default to the same folder, so on one machine they
    share one journal."""
    if named:
        return Path(named)
    return (records_dir / JOURNAL_NAME) if records_dir is not None else DEFAULT_JOURNAL


class OptOutJournal:
    """Append-only, fsync'd JSONL of opt-outs; reads only what other writers appended since."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}  # account -> its first opt-out
        self._order: list[str] = []                     # accounts in the order first journaled
        self._offset = 0                                # bytes of the file already read
        self._identity: tuple[int, int] | None = None   # (device, inode) read from

    # -- writing --------------------------------------------------------------------------
    def append(self, account_id: str, at: datetime, source: str, reason: str = "",
               **extra: Any) -> dict[str, Any]:
        """Write one opt-out durably (OSError if the disk refuses: the caller must know)."""
        entry = {"account": account_id, "at": at.astimezone(timezone.utc).isoformat(), "source": source,
                 "reason": reason, **{k: v for k, v in extra.items() if v is not None}}
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            created = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # a writer died mid-line: do not glue ours onto it
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)  # releases the flock
            if created:
                _fsync_dir(self.path.parent)  # the new file's name is durable too
        self._load()
        return entry

    # -- reading --------------------------------------------------------------------------
    def get(self, account_id: str) -> dict[str, Any] | None:
        """The account's opt-out, if any process has journaled one."""
        self._load()
        return self._entries.get(account_id)

    def __contains__(self, account_id: object) -> bool:
        return isinstance(account_id, str) and self.get(account_id) is not None

    def entries(self) -> list[dict[str, Any]]:
        """Every opted-out account's first entry, in journal order."""
        self._load()
        with self._lock:
            return [self._entries[a] for a in self._order]

    def _load(self) -> None:
        """Read what was appended since the last call (one stat when nothing was)."""
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                self._reset(None)
                return
            identity = (stat.st_dev, stat.st_ino)
            if identity != self._identity or stat.st_size < self._offset:
                self._reset(identity)  # replaced or truncated: read it again from the start
            if stat.st_size == self._offset:
                return
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
            complete = data.rfind(b"\n") + 1  # a line still being written waits for its newline
            for raw in data[:complete].splitlines():
                self._take(raw)
            self._offset += complete

    def _reset(self, identity: tuple[int, int] | None) -> None:
        self._entries, self._order, self._offset, self._identity = {}, [], 0, identity

    def _take(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            entry = json.loads(raw)
            account = entry["account"]
            if not isinstance(account, str) or not account:
                raise ValueError("no account")
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning(f"opt-out journal {self.path}: skipping a damaged line ({exc}): {raw[:80]!r}")
            return
        if account not in self._entries:
            self._entries[account] = entry
            self._order.append(account)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

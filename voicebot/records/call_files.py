"""A call's files in the records folder, found and removed without ever leaving that folder.

`voicebot/recording/` writes `<call_id>.jsonl` (each turn as it happens), `<call_id>.json` (the
summary; `<call_id>.json.tmp` while it is being written) and `<call_id>.wav` there.  They hold
the debtor's words and voice, so retention and erasure must remove them, and nothing else: the
same folder holds the records database and the opt-out journal (`opt-outs.jsonl`, a legal
obligation to keep).  So a file is only ever chosen by a call id, either one the records
database names or one the file's own first record names (`{"type": "call", "call_id": ...}`),
and every path is checked before it is unlinked: it must be in the folder itself (paths
resolved, so `..` or a symlinked directory cannot lead out), and a symlink is never followed:
one pointing outside the folder is left in place and reported; one pointing inside is removed
as a link, its target untouched.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

#: What the recorder writes per call, by suffix.
CALL_FILE_SUFFIXES = (".jsonl", ".json", ".wav", ".json.tmp")
#: A call id that is a plain file name (uuid hex, a carrier's call SID): nothing else is matched.
CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
FIRST_LINE_MAX = 64 * 1024   # the JSONL's first record is a few hundred bytes
SUMMARY_MAX = 64 * 1024 * 1024


@dataclass(frozen=True)
class FoundCall:
    """A call known from its own files (the records database may not have it)."""

    call_id: str
    account_id: str | None
    last_written: datetime  # the newest of its files' modification times: when the call ended


@dataclass
class FileRemoval:
    """Files removed (or, in a dry run, to be removed) and files refused, with why."""

    removed: list[Path] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)
    bytes: int = 0

    def by_kind(self) -> dict[str, int]:
        """Counts per suffix (".jsonl", ".json", ".wav", ".json.tmp")."""
        counts = dict.fromkeys(CALL_FILE_SUFFIXES, 0)
        for path in self.removed:
            kind = _suffix(path.name) or path.suffix  # a recording the database names otherwise
            counts[kind] = counts.get(kind, 0) + 1
        return counts


def _suffix(name: str) -> str | None:
    return next((s for s in sorted(CALL_FILE_SUFFIXES, key=len, reverse=True) if name.endswith(s)), None)


def _read_no_follow(path: Path, limit: int) -> bytes | None:
    """Up to `limit` bytes of a regular file, never through a symlink (None if it is one)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    finally:
        os.close(fd)


def _record_of(path: Path, call_id: str) -> dict | None:
    """The call's own record in `path` if it names `call_id`: the JSONL's first line, or the
    summary JSON; None for any other file (the opt-out journal, a stray file)."""
    raw = _read_no_follow(path, FIRST_LINE_MAX if path.name.endswith(".jsonl") else SUMMARY_MAX)
    if not raw:
        return None
    if path.name.endswith(".jsonl"):
        raw = raw.split(b"\n", 1)[0]
    try:
        record = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or record.get("call_id") != call_id:
        return None
    if path.name.endswith(".jsonl") and record.get("type") != "call":
        return None
    return record


class RecordsFolder:
    """The records folder of `voicebot serve` / `simulate` (`var/calls` by default)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.root = Path(os.path.realpath(self.folder))

    def exists(self) -> bool:
        return self.root.is_dir()

    def files_of(self, call_id: str) -> list[Path]:
        """The files of one call that exist (symlinks included, not followed)."""
        if not CALL_ID.fullmatch(call_id) or not self.exists():
            return []
        return [p for p in (self.root / f"{call_id}{s}" for s in CALL_FILE_SUFFIXES) if os.path.lexists(p)]

    def scan(self) -> dict[str, FoundCall]:
        """Every call whose JSONL or summary in the folder names itself; symlinks are not read."""
        if not self.exists():
            return {}
        stems: dict[str, dict[str, os.DirEntry]] = {}
        with os.scandir(self.root) as entries:
            for entry in entries:
                suffix = _suffix(entry.name)
                stem = entry.name[:-len(suffix)] if suffix else ""
                if suffix and CALL_ID.fullmatch(stem):
                    stems.setdefault(stem, {})[suffix] = entry
        found: dict[str, FoundCall] = {}
        for call_id, files in stems.items():
            # The summary first: it names the account the call turned out to be about (a
            # callback identified as another account of the number); the JSONL's first line
            # the account it started with, for a call cut off before its summary.
            record = next((r for s in (".json", ".jsonl") if s in files
                           and (r := _record_of(self.root / files[s].name, call_id)) is not None), None)
            if record is None:
                continue
            mtimes = [e.stat(follow_symlinks=False).st_mtime for e in files.values()]
            account = record.get("account")
            found[call_id] = FoundCall(call_id, str(account) if account is not None else None,
                                       datetime.fromtimestamp(max(mtimes), UTC))
        return found

    def refusal(self, path: Path) -> str | None:
        """Why `path` must not be unlinked, or None if it may be (a missing file: None too)."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        if Path(os.path.realpath(Path(path).parent)) != self.root:
            return f"outside the records folder {self.root}"
        if stat.S_ISLNK(info.st_mode):
            target = Path(os.path.realpath(path))
            if not target.is_relative_to(self.root):
                return f"a symlink to {target}, outside the records folder: not followed"
            return None  # a link inside the folder: the link goes, its target stays
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        return None

    def remove(self, paths: Iterable[Path], *, dry_run: bool = False) -> FileRemoval:
        """Unlink each path the checks allow (the link itself for a symlink); report the rest."""
        done = FileRemoval()
        seen: set[tuple[str, str]] = set()
        for path in map(Path, paths):
            place = (os.path.realpath(path.parent), path.name)  # one file, however it was named
            if place in seen:
                continue
            seen.add(place)
            reason = self.refusal(path)
            if reason is not None:
                done.refused.append((path, reason))
                continue
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if not dry_run:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    done.refused.append((path, f"{type(exc).__name__}: {exc.strerror or exc}"))
                    continue
            done.removed.append(path)
            done.bytes += info.st_size if stat.S_ISREG(info.st_mode) else 0
        return done

"""Recording and asking about opt-outs: the local journal first, then the shared store.

Every opt-out heard (on a campaign call, on a call the media-stream server carries, from the
`opt-out` command) goes through `OptOuts.record`, which makes it durable in the journal before
it tries the store; every call start asks `OptOuts.is_opted_out`, which answers from the
journal even when the store is unreachable or has lost the write.  `replay` copies journaled
opt-outs the store lacks into it, so other workers (which may not share this machine's
journal) learn them once the store is back.

The journal is the source of truth and the store a cache of it: a Redis that keeps nothing on
disk (no AOF, no RDB) forgets every opt-out when it restarts, and a worker or server on another
machine, asking only the store, would call those people again.  So the store keeps, beside its
opt-outs, how many entries of each journal it holds (`journal_copied`, keyed by the journal's
first entry, which never changes); a store that lost its opt-outs lost that count with them,
and the next `replay` of any process holding the journal copies the whole journal again.  One
read of the store when nothing is missing; the worker replays every round, the server at every
call start and every few seconds while it runs (voicebot/server/opt_out_guard.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from loguru import logger

from telephony.campaign.opt_out_journal import OptOutJournal
from telephony.campaign.store import AccountFlags

if TYPE_CHECKING:
    from dialogue.session import TurnRecord

ON_A_CALL = "opted out on a call"
STOP_INTENT = "stop_calling"  # the intent with which the policy records the opt-out


class OptOutNotRecorded(RuntimeError):
    """Neither the journal nor the store took an opt-out: it must not be dropped quietly."""


class OptOuts:
    def __init__(self, store: AccountFlags | None, journal: OptOutJournal | None = None):
        """`store`: the campaign store's per-person flags (None: the journal alone, e.g. a
        server without a campaign Redis).  `journal`: None keeps the old store-only behaviour."""
        self.store, self.journal = store, journal
        self._synced = 0  # this many journal entries were in the store at the last replay

    # -- recording ------------------------------------------------------------------------
    def journal_only(self, account_id: str, at: datetime, source: str, reason: str = ON_A_CALL,
                     **extra: Any) -> bool:
        """Make the opt-out durable on this machine (not yet in the store: `replay` does that).
        False, logged as critical, if there is no journal or the disk refused."""
        if self.journal is None:
            return False
        if account_id in self.journal:
            return True  # already journaled (heard at the turn, then reported at the call's end)
        try:
            self.journal.append(account_id, at, source, reason, **extra)
            return True
        except OSError as exc:
            logger.critical(f"OPT-OUT NOT JOURNALED: account {account_id} ({source}): "
                            f"{self.journal.path}: {exc}")
            return False

    def record(self, account_id: str, at: datetime, source: str, reason: str = ON_A_CALL, **extra: Any) -> bool:
        """Journal, then store.  True when the store has it too; False when only the journal
        does (logged; `replay` writes it later).  OptOutNotRecorded when neither took it."""
        journaled = self.journal_only(account_id, at, source, reason, **extra)
        if self.store is None:
            if not journaled:
                raise OptOutNotRecorded(f"opt-out of {account_id}: no journal took it and there is no store")
            return False
        try:
            self.store.opt_out(account_id, at, reason)
            return True
        except Exception as exc:
            if not journaled:
                raise OptOutNotRecorded(f"opt-out of {account_id} ({source}) is lost: the journal and "
                                        f"the store both refused it: {exc}") from exc
            logger.error(f"opt-out of {account_id} ({source}) is in the journal {self.journal.path} "
                         f"but the store refused it ({type(exc).__name__}: {exc}); it is replayed "
                         "into the store when the store answers again")
            return False

    # -- asking ---------------------------------------------------------------------------
    def journaled(self, account_id: str) -> bool:
        return self.journal is not None and account_id in self.journal

    def is_opted_out(self, account_id: str) -> bool:
        """The journal, then the store (whose errors reach the caller: it decides whether the
        journal's answer is enough)."""
        if self.journaled(account_id):
            return True
        return self.store is not None and self.store.is_opted_out(account_id)

    # -- catching the store up ------------------------------------------------------------
    def copy_to_store(self, account_id: str) -> None:
        """Write one journaled opt-out into the store (idempotent), keeping its time and source."""
        entry = self.journal.get(account_id) if self.journal is not None else None
        if entry is None or self.store is None:
            return
        self.store.opt_out(account_id, datetime.fromisoformat(entry["at"]),
                           f"{entry.get('reason') or ON_A_CALL} (journal: {entry.get('source')})")

    def replay(self) -> int:
        """Copy journal entries the store does not hold into it; the number copied.  One read
        of the store when it holds them all, so a worker runs it every loop; all of them
        again when the store lost them (see the module's note).  Store errors reach the
        caller, and the next replay tries again."""
        if self.journal is None or self.store is None:
            return 0
        entries = self.journal.entries()
        if not entries:
            return 0
        journal_id = journal_key(entries[0])
        copied = self.store.journal_copied(journal_id)
        if copied == len(entries):
            self._synced = copied
            return 0
        start = copied if copied < len(entries) else 0  # more than the journal holds: not this one's count
        known = self.store.opted_out()
        missing = [e["account"] for e in entries[start:] if e["account"] not in known]
        for account_id in missing:
            self.copy_to_store(account_id)
        self.store.mark_journal_copied(journal_id, len(entries))
        if missing:
            lost = start == 0 and self._synced > 0
            logger.warning(f"opt-out journal {self.journal.path}: {len(missing)} opt-out(s) the store "
                           + ("had lost (restarted without persistence, or flushed) " if lost else "lacked ")
                           + f"were written to it: {', '.join(missing[:10])}")
        self._synced = len(entries)
        return len(missing)


def journal_key(first_entry: dict[str, Any]) -> str:
    """A journal's name in the store: its first entry, which an append-only journal never
    changes, is the same for every process sharing the file and differs between journals."""
    canonical = json.dumps(first_entry, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()[:20]


def journal_when_heard(opt_outs: OptOuts, account_id: str | Callable[[], Sequence[str]], source: str,
                       after: Callable[[], None] | None = None, **extra: Any) -> Callable[[TurnRecord], None]:
    """A CallSession turn listener: the turn in which the debtor asks not to be called again
    is journaled at once, while the call goes on, so neither a lost `call.ended` event nor a
    process killed before the call's end can lose it.  `after` runs once it is journaled (the
    server copies it to the store off its event loop).

    `account_id` may be a function asked at the moment the request is heard: on a callback the
    account is known only once the caller has answered the knowledge check, and before that
    the request covers every account of the caller's number (`CallSession.accounts_in_question`)."""
    def listener(turn: TurnRecord) -> None:
        if turn.intent != STOP_INTENT:
            return
        now = datetime.now(timezone.utc)
        for account in ([account_id] if isinstance(account_id, str) else account_id()):
            opt_outs.journal_only(account, now, source, ON_A_CALL, **extra)
        if after is not None:
            after()

    return listener

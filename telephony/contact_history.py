"""One contact history: every attempt to reach a debtor, whoever made it, in one place.

The contact rules (dialogue.compliance.rules.may_call) count attempts: Reg F's seven calls in
seven days, a quiet week after a conversation, cn's daily caps.  They hold only if every call
start is judged with every attempt: a campaign's dials, calls the media-stream server took from
elsewhere, the debtor's own calls in (a conversation too), the texts.  So each source records
its attempts here and each call start asks here.

This is the protocol; the records store implements it (voicebot/records/contact_history.py)
and the application hands it to the campaign worker, the SMS triggers and the server, so
`telephony` keeps to its layer.  Implementations are synchronous (callers on an event loop run
them on a thread) and raise HistoryUnavailable when the history cannot be read or written now.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from dialogue.compliance.rules import Attempt, Decision

Channel = Literal["call", "sms"]
Direction = Literal["outbound", "inbound"]
Source = Literal["campaign", "server", "inbound", "sms"]
SOURCES: tuple[str, ...] = ("campaign", "server", "inbound", "sms")

#: How far back a call start reads the history: longer than any profile's rolling window.
LOOKBACK = timedelta(days=35)
#: A campaign dial still under way this recent is the call the server is now asked to start
#: (the campaign placed it through a carrier): the server takes it over instead of counting twice.
ADOPT_WITHIN = timedelta(minutes=10)
NOT_PLACED = "not_placed"  # outcome of a recorded dial that never went out (not an attempt)


class HistoryUnavailable(RuntimeError):
    """The contact history cannot be read or written now; the message says where it is."""


@dataclass(frozen=True)
class ContactAttempt:
    """One attempt as its source records it."""

    account_id: str
    phone: str | None            # E.164, as accounts are loaded
    channel: Channel
    direction: Direction
    source: Source
    started_at: datetime         # aware; stored in UTC
    call_id: str | None = None   # the call's id in the records (or the dialer's), an SMS's message id
    outcome: str | None = None   # None while under way
    connected: bool = False
    conversation: bool = False   # right-party contact: identity confirmed on the line

    def __post_init__(self) -> None:
        if not self.account_id:
            raise ValueError("a contact attempt needs an account id")
        if self.started_at.tzinfo is None:
            raise ValueError(f"contact attempt of {self.account_id}: started_at must be timezone-aware")
        if self.source not in SOURCES or self.channel not in ("call", "sms") \
                or self.direction not in ("outbound", "inbound"):
            raise ValueError(f"contact attempt of {self.account_id}: bad channel/direction/source "
                             f"{self.channel}/{self.direction}/{self.source}")


@dataclass(frozen=True)
class Started:
    """What a checked start found: the rules' decision and, when allowed, the attempt's id."""

    decision: Decision
    attempt_id: str | None = None
    adopted: bool = False        # the attempt is a campaign's dial already recorded, now taken over


Decide = Callable[[list[Attempt]], Decision]


class ContactHistory(Protocol):
    #: where the history is, for log lines (no password)
    description: str

    def attempts_since(self, account_id: str, since: datetime) -> list[Attempt]:
        """The account's attempts from `since` on, oldest first, as the rules take them."""
        ...

    def start(self, attempt: ContactAttempt, decide: Decide, *, adopt_within: timedelta | None = None,
              timeout_s: float | None = None, give_up: threading.Event | None = None) -> Started:
        """Read the account's attempts (LOOKBACK before `attempt.started_at`), ask `decide`, and
        record `attempt` only if it allows, in one transaction that no other start for the
        account interleaves with.  With `adopt_within`, a campaign dial of this account still
        under way and that recent is this very call: it is left out of what `decide` sees and,
        if allowed, its id is returned instead of a new row.  `timeout_s` bounds the waits for
        a lock (then HistoryUnavailable); `give_up`, set by a caller that stopped waiting,
        rolls the transaction back instead of recording."""
        ...

    def record(self, attempt: ContactAttempt) -> str:
        """Record an attempt without asking the rules (an inbound call, a text sent); returns its
        id at once, the write may land a moment later."""
        ...

    def finish(self, attempt_id: str, *, outcome: str, connected: bool, conversation: bool,
               call_id: str | None = None, account_id: str | None = None) -> None:
        """What came of an attempt; queued, never blocks the caller.  `account_id`: the account
        the attempt turned out to be about (a callback whose caller answered the knowledge
        check as another account of the same number); its quiet days and caps count there."""
        ...

"""Which attempts a campaign's dial is judged with, and where the dial is counted.

With a contact history (telephony/contact_history.py, the records store's, given by the
application) the dial is judged with every source's attempts (other campaigns, calls the
server took from elsewhere, calls in) and recorded there in the same transaction, so a server
on another machine starting a call to the same debtor at the same moment cannot slip past the
caps with it; the campaign store's own log is added, a dial in both counted once.  Without
one (a campaign run with no records database) the campaign store's log is all there is, as
before.  The campaign store keeps its log either way: the campaign's own daily and weekly
settings count it.
"""

from __future__ import annotations

from datetime import datetime

from dialogue.accounts import Account
from dialogue.compliance.rules import Attempt, Decision, may_call
from telephony.campaign.dialer import CallAnswer
from telephony.campaign.store import CampaignStore
from telephony.contact_history import LOOKBACK, NOT_PLACED, ContactAttempt, ContactHistory


class DialHistory:
    def __init__(self, store: CampaignStore, history: ContactHistory | None = None):
        self.store, self.history = store, history

    def judge(self, account: Account, now: datetime, opted_out: bool, call_id: str) -> tuple[Decision, str | None]:
        """The contact rules' decision on dialling `account` now; when allowed and there is a
        contact history, the dial is recorded in it: (decision, its attempt id)."""
        if self.history is None:
            attempts = self.store.attempts_since(account.id, now - LOOKBACK)
            return may_call(account, attempts, now, opted_out=opted_out), None
        # This store's dials too (every worker on it), in case a worker elsewhere records into
        # another database: a dial in both logs (same campaign call id) counts once.
        own = self.store.attempts_since(account.id, now - LOOKBACK)

        def decide(past: list[Attempt]) -> Decision:
            logged = {a.ref for a in past if a.ref}
            return may_call(account, past + [a for a in own if a.ref not in logged], now, opted_out=opted_out)

        attempt = ContactAttempt(account.id, account.phone, "call", "outbound", "campaign", now, call_id=call_id)
        started = self.history.start(attempt, decide)
        return started.decision, started.attempt_id

    def not_placed(self, attempt_id: str | None) -> None:
        """The dial was recorded but never went out (the campaign store failed first): it is
        no attempt, and a server must not take it for a call under way."""
        if attempt_id is not None and self.history is not None:
            self.history.finish(attempt_id, outcome=NOT_PLACED, connected=False, conversation=False)

    def ended(self, attempt_id: str | None, answer: CallAnswer, conversation: bool) -> None:
        """What came of the dial (the row keeps the campaign's call id, as the store's log does)."""
        if attempt_id is None or self.history is None:
            return
        self.history.finish(attempt_id, outcome=answer.outcome or answer.status,
                            connected=answer.status == "answered", conversation=conversation)

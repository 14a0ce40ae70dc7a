"""Whether a promise to pay was kept: pure rules over a debtor's promises and payments at a
given instant.  Nothing here reads a clock or a database: the records' promise book
(voicebot/records/promise_book.py) loads the facts, passes "now", and stores what comes out,
so the same verdicts come back in a test run in virtual time and in production.

A promise counts the payments made from the start of the day it was made (the debtor's clock)
until the end of the promised day plus a grace (a payment feed that lags, a bank transfer that
takes a day).  Paid in full in that window: `kept`, as soon as the money is there.  Otherwise
the promise stays `pending` until it is checked (`check_at`, never before the grace is over),
and is then `partly_kept` (some money came) or `broken` (none did).  Verdicts are recomputed
from all the facts every time, so a payment that reaches the feed late but was made in time
still turns a `broken` promise into a `kept` one.  Money paid after the window still counts:
a promise it covers becomes `paid_late` (not kept on time, so not in the kept rate, but owed
nothing: no follow-up call may say "it hasn't reached us"), one it covers in part `partly_kept`.

A payment goes to the account's earliest open promise whose window holds it; what is left over
goes on to the next one, then to the earliest promise whose window had closed before it was
paid and is still short.  The account a follow-up call is about carries the broken promise as
`prior_promise` ({date, amount, currency}), which the scripts say as {prior_promise_amount} and
{prior_promise_date}.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dialogue.accounts import Account

PromiseState = Literal["pending", "kept", "paid_late", "partly_kept", "broken"]
PROMISE_STATES: tuple[str, ...] = ("pending", "kept", "paid_late", "partly_kept", "broken")
CENT = 0.005  # amounts are money: half a cent short still pays in full
PRIOR_PROMISE = "prior_promise"  # the account field a follow-up call carries
REMINDER_TRIGGER = "promise_reminder"  # the SMS trigger (and stage sms: key) that reminds of a promise


@dataclass(frozen=True)
class PromiseTerms:
    """What was promised, with its window: payments from `counts_from` to `due_by` (+ grace) count."""

    id: int
    account_id: str
    amount: float
    counts_from: datetime   # the start of the day the promise was made, on the debtor's clock
    due_by: datetime        # the end of the promised day, on the debtor's clock
    check_at: datetime | None = None  # when it is judged if unpaid (None: as soon as the grace ends)


@dataclass(frozen=True)
class PaymentFact:
    reference: str
    account_id: str
    amount: float
    paid_at: datetime


@dataclass(frozen=True)
class Verdict:
    state: PromiseState
    paid: float  # paid toward this promise: inside its window, and after it once it was late


def promise_window(promised_on: date, made_on: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """(counts_from, due_by) for a promise made on `made_on` to pay on `promised_on`, in `zone`."""
    counts_from = datetime.combine(made_on, time(0), tzinfo=zone)
    due_by = datetime.combine(promised_on + timedelta(days=1), time(0), tzinfo=zone)
    return counts_from, due_by


def check_time(terms: PromiseTerms, grace: timedelta) -> datetime:
    """When an unpaid promise is judged: its check, but never before the grace is over."""
    deadline = terms.due_by + grace
    return max(deadline, terms.check_at) if terms.check_at is not None else deadline


def judge(promises: Iterable[PromiseTerms], payments: Iterable[PaymentFact], now: datetime,
          grace: timedelta = timedelta(0)) -> dict[int, Verdict]:
    """Every promise's state at `now`, given every payment known (any order, any accounts;
    those dated after `now` do not count yet)."""
    by_account: dict[str, list[PromiseTerms]] = defaultdict(list)
    for terms in promises:
        by_account[terms.account_id].append(terms)
    paid_by: dict[str, list[PaymentFact]] = defaultdict(list)
    for payment in payments:
        if payment.amount > 0 and payment.paid_at <= now:  # a feed dated ahead of `now` is not paid yet
            paid_by[payment.account_id].append(payment)
    out: dict[int, Verdict] = {}
    for account_id, terms_list in by_account.items():
        ordered = sorted(terms_list, key=lambda t: (t.due_by, t.id))
        in_time, late = _allocate(ordered, paid_by.get(account_id, []), grace)
        for terms in ordered:
            out[terms.id] = _verdict(terms, in_time[terms.id], late[terms.id], now, grace)
    return out


def _allocate(ordered: list[PromiseTerms], payments: list[PaymentFact],
              grace: timedelta) -> tuple[dict[int, float], dict[int, float]]:
    """What each promise got in its window, and after it: a payment fills the open windows
    first (oldest promise first), and only its leftover goes to promises already late."""
    in_time = {t.id: 0.0 for t in ordered}
    late = {t.id: 0.0 for t in ordered}
    for payment in sorted(payments, key=lambda p: (p.paid_at, p.reference)):
        left = _fill(ordered, payment.amount, in_time, late, in_time,
                     lambda t: t.counts_from <= payment.paid_at < t.due_by + grace)
        _fill(ordered, left, in_time, late, late, lambda t: payment.paid_at >= t.due_by + grace)
    return in_time, late


def _fill(ordered: list[PromiseTerms], left: float, in_time: dict[int, float], late: dict[int, float],
          into: dict[int, float], counts: Callable[[PromiseTerms], bool]) -> float:
    """Put `left` into the promises `counts` accepts, up to what each still lacks; the rest."""
    for terms in ordered:
        if left <= 0:
            break
        room = terms.amount - in_time[terms.id] - late[terms.id]
        if room <= CENT or not counts(terms):
            continue
        take = min(left, room)
        into[terms.id] += take
        left -= take
    return left


def _verdict(terms: PromiseTerms, in_time: float, late: float, now: datetime, grace: timedelta) -> Verdict:
    paid = round(in_time, 2)
    if paid >= terms.amount - CENT:
        return Verdict("kept", paid)
    if now < check_time(terms, grace):
        return Verdict("pending", paid)
    paid = round(in_time + late, 2)
    if paid >= terms.amount - CENT:
        return Verdict("paid_late", paid)
    return Verdict("partly_kept" if paid > 0 else "broken", paid)


class PriorPromise(BaseModel):
    """The broken promise a follow-up call is about, as the account carries it."""

    model_config = ConfigDict(extra="ignore")

    date: date
    amount: float = Field(gt=0)
    currency: str | None = None
    id: int | None = None


def prior_promise(account: Account) -> PriorPromise | None:
    """The promise this account's call follows up, if any (`prior_promise` on the account:
    a mapping, or its JSON text as a CSV cell holds it)."""
    raw = (account.model_extra or {}).get(PRIOR_PROMISE)
    if raw in (None, ""):
        return None
    if isinstance(raw, str):
        raw = json.loads(raw)
    return PriorPromise.model_validate(raw)


def with_prior_promise(account: Account, promise: PriorPromise | dict | None) -> Account:
    """The account as a follow-up call sees it: with (or without) the promise it is about."""
    data = account.model_dump(mode="json")
    data.pop(PRIOR_PROMISE, None)
    if promise is not None:
        data[PRIOR_PROMISE] = (promise if isinstance(promise, PriorPromise)
                               else PriorPromise.model_validate(promise)).model_dump(mode="json")
    return Account.model_validate(data)


def heard_method(debtor_texts: Iterable[str], methods: Iterable[str]) -> str | None:
    """The account's payment method the debtor named on the call ("I'll pay online banking on
    Friday" -> "online banking"), if one was; the first one named wins."""
    texts = [" ".join(w for w in re.split(r"\W+", t.lower()) if w) if t.isascii() else t
             for t in debtor_texts if t]
    found: list[tuple[int, int, str]] = []
    for method in methods:
        for key in _method_keys(method):
            pattern = re.compile(rf"\b{re.escape(key)}\b" if key.isascii() else re.escape(key))
            hits = [(turn, m.start()) for turn, text in enumerate(texts) if (m := pattern.search(text))]
            if hits:
                found.append((*hits[0], method))
                break
    return min(found)[2] if found else None


def _method_keys(method: str) -> list[str]:
    """How a debtor may name a method: whole ("the Cascade mobile app"), then its last two
    words ("mobile app"), then its last word ("app"); Chinese names only whole."""
    if not method.isascii():
        return [method.strip()] if method.strip() else []
    words = [w for w in re.split(r"\W+", method.lower()) if w and w not in ("the", "a", "an", "by", "via")]
    keys = [" ".join(words), " ".join(words[-2:]), words[-1] if words else ""]
    return [k for i, k in enumerate(keys) if k and k not in keys[:i]]

"""The payments feed: rows checked where they enter (a CSV file, the server's POST /payments),
then added to the promise book once each.

Each payment needs an account id, an amount above zero, when it was paid (an ISO instant, or a
date, taken as noon UTC so it stays that calendar day in every zone from UTC-11 to UTC+11) and
the lender's reference.  The reference makes adding idempotent: the same payment sent again is
a duplicate and changes nothing; a reference already recorded with other facts is refused (the
first record stands: nothing recorded is overwritten).  Text a spreadsheet would run as a
formula (=, +, -, @, tab or CR first) is refused too, so a poisoned feed cannot reach the
console's exports.  After adding, the accounts' promises are judged again (a payment in time
makes its promise kept).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select

from dialogue.paths import locale_dir
from dialogue.script.checks import load_locale
from dialogue.script.loader import LocaleScripts
from telephony.campaign.promise_follow_ups import judge_book
from voicebot.records.promise_book import SqlPromiseBook
from voicebot.records.promises import Payment
from voicebot.records.store import RecordStore

COLUMNS = ("account_id", "amount", "paid_at", "reference")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_ROWS = 100_000


class PaymentsError(ValueError):
    """The file as a whole is unusable (missing, not CSV, missing columns); says which."""


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    account_id: str = Field(min_length=1, max_length=64)
    amount: float = Field(gt=0, allow_inf_nan=False)
    paid_at: datetime
    reference: str = Field(min_length=1, max_length=128)
    currency: str | None = Field(None, max_length=8)

    @field_validator("account_id", "reference", "currency")
    @classmethod
    def _no_formula(cls, value: str | None) -> str | None:
        if value and value.startswith(FORMULA_START):
            raise ValueError(f"{value[:20]!r} starts like a spreadsheet formula")
        return value

    @field_validator("paid_at", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value.strip()) == 10:  # a bare date
            return datetime.combine(date.fromisoformat(value.strip()), time(12), tzinfo=UTC)
        if isinstance(value, str):
            return value.strip().replace("Z", "+00:00")
        return value

    @field_validator("paid_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("amount")
    @classmethod
    def _cents(cls, value: float) -> float:
        if abs(round(value, 2) - value) > 1e-9:
            raise ValueError(f"{value} has more than two decimals")
        return value


@dataclass(frozen=True)
class RowError:
    where: str       # "line 7" in a file, "payments[3]" in a request
    message: str


@dataclass
class AddResult:
    added: list[str] = field(default_factory=list)       # references
    duplicates: list[str] = field(default_factory=list)  # sent before, same facts
    errors: list[RowError] = field(default_factory=list)
    judged: dict[str, int] = field(default_factory=dict)  # promise state -> count, for the accounts touched

    def to_dict(self) -> dict[str, Any]:
        return {"added": len(self.added), "duplicates": len(self.duplicates), "judged": self.judged,
                "errors": [{"where": e.where, "error": e.message} for e in self.errors]}


def _message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors())


def parse_rows(rows: list[dict[str, Any]], where) -> tuple[list[tuple[str, PaymentIn]], list[RowError]]:
    """Validate each row; `where(i)` names row i in messages."""
    good, bad = [], []
    for index, row in enumerate(rows):
        try:
            good.append((where(index), PaymentIn.model_validate(row)))
        except ValidationError as exc:
            bad.append(RowError(where(index), _message(exc)))
    return good, bad


def read_csv(path: Path) -> tuple[list[tuple[str, PaymentIn]], list[RowError]]:
    """The file's payments and its bad rows, each bad row named by its line."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # Excel's BOM
            reader = csv.DictReader(fh)
            header = [(h or "").strip().lower() for h in reader.fieldnames or []]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise PaymentsError(f"{path}: missing column(s) {', '.join(missing)} (need {', '.join(COLUMNS)}; "
                                    f"found {', '.join(header) or 'no header'})")
            reader.fieldnames = header
            rows, lines = [], []
            for row in reader:
                if len(rows) >= MAX_ROWS:
                    raise PaymentsError(f"{path}: more than {MAX_ROWS} rows; split the file")
                rows.append({k: v for k, v in row.items() if k and v not in (None, "")})
                lines.append(reader.line_num)
    except FileNotFoundError:
        raise PaymentsError(f"{path}: file not found") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PaymentsError(f"{path}: not a UTF-8 CSV file: {exc}") from None
    return parse_rows(rows, lambda i: f"line {lines[i]}")


def _same(stored: Payment, payment: PaymentIn) -> bool:
    paid_at = stored.paid_at if stored.paid_at.tzinfo else stored.paid_at.replace(tzinfo=UTC)
    return (stored.account_id == payment.account_id and abs(float(stored.amount) - payment.amount) < 0.005
            and abs(paid_at - payment.paid_at) < timedelta(seconds=1))


class _Conflicts(Exception):
    """Rolls a batch back: one of its references is recorded with other facts."""


def add_payments(store: RecordStore, payments: list[tuple[str, PaymentIn]], source: str,
                 received_at: datetime, *, all_or_nothing: bool = False) -> AddResult:
    """Add new payments in one transaction; duplicates are skipped, conflicts reported (and,
    `all_or_nothing`, the whole batch left out)."""
    result = AddResult()

    def write(db) -> None:
        refs = [p.reference for _, p in payments]
        known = {p.reference: p for p in db.scalars(select(Payment).where(Payment.reference.in_(refs)))} if refs else {}
        for where, payment in payments:
            stored = known.get(payment.reference)
            if stored is None:
                row = Payment(reference=payment.reference, account_id=payment.account_id, amount=payment.amount,
                              currency=payment.currency, paid_at=payment.paid_at, source=source,
                              received_at=received_at)
                db.add(row)
                known[payment.reference] = row
                result.added.append(payment.reference)
            elif _same(stored, payment):
                result.duplicates.append(payment.reference)
            else:
                result.errors.append(RowError(where, f"reference {payment.reference!r} is already recorded for "
                                                     f"{stored.account_id}, {float(stored.amount):.2f} paid "
                                                     f"{stored.paid_at:%Y-%m-%d %H:%M}; not changed"))
        if all_or_nothing and result.errors:
            raise _Conflicts()
    try:
        store.write_now(write)
    except _Conflicts:
        result.added, result.duplicates = [], []
    return result


@cache
def scripts_only(locale: str) -> LocaleScripts:
    """A locale's scripts for their follow-up policies, without the NLU model a call needs."""
    return load_locale(locale_dir(locale))


def judge_after(store: RecordStore, result: AddResult, account_ids: set[str], now: datetime,
                grace: timedelta) -> AddResult:
    """Judge the touched accounts' promises at `now` (a payment in time keeps its promise)."""
    if account_ids:
        for record in judge_book(SqlPromiseBook(store), account_ids, now, grace, scripts_only):
            result.judged[record.state] = result.judged.get(record.state, 0) + 1
    return result

"""Tables of the promise book: every promise to pay heard on a call, with its state, and the
payments the lender's feed reported (on the records store's `Base`, so `create_all` builds them
and Alembic revision 0003_promises adds them to an existing database).

A promise row is written when its call ends (voicebot/records/attach.py: the call's outcome
and slots are final then); its state is the pure verdict of dialogue/promises.py, written back
by whoever judged it last (a campaign round, a payments import, the server's payments feed).
The follow-up steps a campaign took are stamped on the row, each once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from voicebot.records.models import Base

Money = Numeric(12, 2, asdecimal=False)  # exact in the database, a float in Python like Account.amount


class Promise(Base):
    __tablename__ = "vb_promises"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # one promise per call
    locale: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(32), index=True)
    voice: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))         # promise_to_pay | partial_payment
    promised_on: Mapped[date] = mapped_column(Date, index=True)  # the debtor's calendar
    made_on: Mapped[date] = mapped_column(Date, index=True)      # the call's day, the debtor's calendar
    timezone: Mapped[str] = mapped_column(String(64))        # the zone those dates are in
    amount: Mapped[float] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(8))
    method: Mapped[str | None] = mapped_column(String(64))   # the payment method named, if one was
    state: Mapped[str] = mapped_column(String(16), index=True, default="pending")
    paid: Mapped[float] = mapped_column(Money, default=0.0)  # paid toward it in its window
    state_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last change of state
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    followed_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    follow_up_note: Mapped[str] = mapped_column(Text, default="")


class Payment(Base):
    """One payment from the lender's feed; its reference makes an import idempotent."""

    __tablename__ = "vb_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[float] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(8))
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    source: Mapped[str] = mapped_column(String(16))          # csv | http
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

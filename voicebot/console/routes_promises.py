"""The promise book page (promises by state, kept rate by stage, day and voice, promised against
collected, the accounts escalated to people) and a debtor's page (their calls, promises and
payments).  Both for the roles that follow debtors up (`promises` in auth.PERMISSIONS)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from voicebot.console.auth import Principal
from voicebot.console.deps import Console, console, require
from voicebot.console.promise_views import payment_views, promise_views, rate_charts
from voicebot.console.views import call_rows
from voicebot.records.audit import audit
from voicebot.records.models import Call
from voicebot.records.promise_figures import STATES, account_payments, book_figures, promise_lines

router = APIRouter()


class BookFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    state: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def _filter(request: Request) -> BookFilter:
    try:
        flt = BookFilter.model_validate({k: v for k, v in request.query_params.items() if v})
    except ValidationError as exc:
        raise HTTPException(400, f"bad filter: {exc.errors()[0]['msg']}") from None
    if flt.state is not None and flt.state not in STATES:
        raise HTTPException(400, f"bad filter: state is one of {', '.join(STATES)}")
    return flt


@router.get("/promises")
def promises_page(request: Request, user: Principal = Depends(require("promises")),
                  ctx: Console = Depends(console)):
    flt = _filter(request)
    with ctx.store.session() as db:
        figures = book_figures(db, flt.date_from, flt.date_to)
        lines = promise_lines(db, state=flt.state)
        escalated = promise_lines(db, escalated=True, limit=50)
    return ctx.page(request, user, "promises.html", figures=figures, charts=rate_charts(figures), flt=flt,
                    states=STATES, promises=promise_views(lines, user), escalated=promise_views(escalated, user))


@router.get("/accounts/{account_id}")
def account_page(request: Request, account_id: str, user: Principal = Depends(require("promises")),
                 ctx: Console = Depends(console)):
    with ctx.store.session() as db:
        calls = db.query(Call).filter(Call.account_id == account_id).order_by(Call.started_at.desc()).limit(200).all()
        lines = promise_lines(db, account_id=account_id)
        payments = account_payments(db, account_id)
    if not calls and not lines and not payments:
        raise HTTPException(404, f"nothing recorded for account {account_id!r}")
    audit(ctx.store, user, "open_account", account_id)
    return ctx.page(request, user, "account.html", account_id=account_id, calls=call_rows(calls, user),
                    promises=promise_views(lines, user), payments=payment_views(payments, user))

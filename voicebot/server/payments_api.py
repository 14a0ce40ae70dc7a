"""POST /payments: the lender's payments feed into the promise book, over HTTP.

Authenticated by its own bearer token (`payments_token`, VOICEBOT_PAYMENTS_TOKEN), distinct
from the carriers' stream tokens and the metrics token: whoever may feed payments may do
nothing else.  Unset, the route answers 403 and takes nothing.

Body: `{"payments": [{"account_id", "amount", "paid_at", "reference", "currency"?}, ...]}`,
the columns of `voicebot payments import`.  All or nothing: one bad row and nothing is added
(422, every bad row named by its index), so a sender fixes its batch and sends it again; a
batch sent twice adds nothing the second time (idempotent on reference).  200 says what was
added and how the touched accounts' promises stand now.
"""

from __future__ import annotations

import asyncio
import hmac
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from telephony.campaign.clock import SystemClock
from voicebot import config
from voicebot.records.payments import add_payments, judge_after, parse_rows
from voicebot.records.store import RecordStore
from voicebot.server.settings import ServerSettings

MAX_BATCH = 10_000
MAX_BODY_BYTES = 4 * 1024 * 1024


def _refusal(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="payments"'} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def mount_payments(app: FastAPI, settings: ServerSettings, store: RecordStore) -> None:
    token = settings.payments_token.get_secret_value().strip() if settings.payments_token else ""
    expected = token.encode() or None  # an empty token is no token: off, never open
    grace = config.current().promise_grace  # VOICEBOT_PROMISE_GRACE, as the campaigns

    @app.post("/payments", include_in_schema=False)
    async def payments(request: Request) -> JSONResponse:
        if expected is None:
            return _refusal(403, "the payments feed is off: set VOICEBOT_PAYMENTS_TOKEN and send "
                                 "Authorization: Bearer <token>")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return _refusal(401, "a payments token is required: Authorization: Bearer <token>")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:  # refused before it is read
            return _refusal(413, f"body over {MAX_BODY_BYTES} bytes: send smaller batches")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _refusal(413, f"body over {MAX_BODY_BYTES} bytes: send smaller batches")
        try:
            data = await request.json()
        except ValueError:
            return _refusal(400, "the body is not JSON: {\"payments\": [...]}")
        rows = data.get("payments") if isinstance(data, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return _refusal(400, "expected {\"payments\": [{account_id, amount, paid_at, reference}, ...]}")
        if len(rows) > MAX_BATCH:
            return _refusal(413, f"more than {MAX_BATCH} payments in one request")
        good, bad = parse_rows(rows, lambda i: f"payments[{i}]")
        if bad:
            return _refusal(422, "no payment was added: fix these and send the batch again",
                            errors=[{"where": e.where, "error": e.message} for e in bad])
        now: datetime = SystemClock().now()
        result = await asyncio.to_thread(_add, store, good, now, grace)
        status = 409 if result.errors else 200  # a reference recorded with other facts
        return JSONResponse(result.to_dict(), status_code=status)


def _add(store: RecordStore, good, now: datetime, grace):
    result = add_payments(store, good, "http", now, all_or_nothing=True)
    return judge_after(store, result, {p.account_id for _, p in good}, now, grace)

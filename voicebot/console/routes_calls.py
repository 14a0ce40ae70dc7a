"""Sign-in, the calls list (filters, sort, CSV), the call page (transcript, recording,
corrections), the corrections export and the audit log."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError

from dialogue.intents import INTENTS
from voicebot.console.auth import COOKIE, SESSION_MAX_AGE_S, Principal
from voicebot.console.deps import PREFIX, Console, console, require
from voicebot.console.sign_in_limits import SignInRefused
from voicebot.console.views import call_rows, call_view, correction_redactor
from voicebot.records.audit import audit, recent
from voicebot.records.corrections import CorrectionError, correct_intent, export_corrections
from voicebot.records.models import Call
from voicebot.records.queries import CallFilter, as_utc, distinct_values, list_calls

router = APIRouter()
log = logging.getLogger(__name__)
CSV_FIELDS = ["call_id", "started_at", "account_id", "debtor_name", "phone", "locale", "stage", "attempt",
              "outcome", "score", "tags", "escalated", "low_confidence", "identity_confirmed", "duration_s"]


_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (=, +, -, @, tab or CR first) is quoted, so
    "=1+HYPERLINK(...)" and "-2+3+cmd|..." stay text (OWASP's CSV injection advice); a plain
    signed number ("-12.50") passes as it is."""
    if (isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r")
            and not _NUMBER.fullmatch(value)):
        return "'" + value
    return value


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith(PREFIX + "/") and "//" not in target else f"{PREFIX}/calls"


@router.get("/login")
def login_form(request: Request, next: str | None = None, ctx: Console = Depends(console)):
    return ctx.templates.TemplateResponse(request, "login.html", {"prefix": PREFIX, "next": _safe_next(next),
                                                                  "error": None, "user": None, "nav": []})


@router.post("/login")
async def login(request: Request, username: str = Form(...), password: str = Form(...), next: str = Form(""),
                ctx: Console = Depends(console)):
    address = request.client.host if request.client else "unknown"
    try:  # limited and off the event loop (voicebot/console/sign_in_limits.py)
        user = await ctx.sign_in.sign_in(ctx.store, address, username.strip(), password)
    except SignInRefused as exc:
        return ctx.templates.TemplateResponse(
            request, "login.html", {"prefix": PREFIX, "next": _safe_next(next), "user": None, "nav": [],
                                    "error": exc.message}, status_code=exc.status,
            headers={"Retry-After": str(exc.retry_after_s)})
    if user is None:
        audit(ctx.store, username.strip()[:64] or "?", "sign_in_refused", address=address)
        return ctx.templates.TemplateResponse(
            request, "login.html", {"prefix": PREFIX, "next": _safe_next(next), "user": None, "nav": [],
                                    "error": "Wrong user name or password."}, status_code=401)
    audit(ctx.store, user, "sign_in")
    response = RedirectResponse(_safe_next(next), status_code=303)
    cookie = await asyncio.to_thread(ctx.sessions.issue, user)
    response.set_cookie(COOKIE, cookie, max_age=SESSION_MAX_AGE_S, httponly=True, samesite="strict", path=PREFIX,
                        secure=ctx.secure_cookies or request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, ctx: Console = Depends(console)):
    """Ends the session on the server too: the cookie, if kept or copied, opens nothing."""
    username = ctx.sessions.revoke(request.cookies.get(COOKIE))
    if username:
        audit(ctx.store, username, "sign_out")
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@router.get("")
@router.get("/")
def home():
    return RedirectResponse(f"{PREFIX}/calls", status_code=303)


def _filter(request: Request) -> CallFilter:
    try:
        return CallFilter.model_validate(dict(request.query_params))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'filter'}: {e['msg']}" for e in exc.errors())
        raise HTTPException(400, f"bad filter: {problems}") from None


@router.get("/calls")
def calls_page(request: Request, user: Principal = Depends(require("calls")), ctx: Console = Depends(console)):
    flt = _filter(request)
    with ctx.store.session() as db:
        calls = call_rows(list_calls(db, flt), user)
        choices = distinct_values(db)
    return ctx.page(request, user, "calls.html", calls=calls, flt=flt, choices=choices,
                    query=str(request.url.query))


@router.get("/calls.csv")
def calls_csv(request: Request, user: Principal = Depends(require("export")), ctx: Console = Depends(console)):
    """The filtered calls as a spreadsheet: an export, so only the roles that may take data
    out of the console (not agents, who work one call at a time)."""
    flt = _filter(request)
    with ctx.store.session() as db:
        calls = call_rows(list_calls(db, flt), user)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for c in calls:
        writer.writerow([_cell(v) for v in [c.id, as_utc(c.started_at).isoformat(), c.account_id, c.debtor, c.phone,
                         c.locale, c.stage, c.attempt, c.outcome or "", "" if c.score is None else c.score,
                         " ".join(c.tags or []), int(c.escalated), int(c.low_confidence),
                         int(c.identity_confirmed), "" if c.duration_s is None else round(c.duration_s, 1)]])
    audit(ctx.store, user, "export_csv", "calls", query=str(request.url.query), rows=len(calls))
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="calls.csv"'})


def _call(ctx: Console, call_id: str) -> Call:
    with ctx.store.session() as db:
        call = db.get(Call, call_id)
        if call is None:
            raise HTTPException(404, f"no call {call_id!r}")
        _ = call.turns  # load while the session is open
    return call


@router.get("/calls/{call_id}")
def call_page(request: Request, call_id: str, user: Principal = Depends(require("calls")),
              ctx: Console = Depends(console)):
    call = _call(ctx, call_id)
    audit(ctx.store, user, "open_call", call_id)
    has_audio = user.may("play") and ctx.recording_file(call.recording) is not None
    return ctx.page(request, user, "call.html", call=call_view(call, user), intents=INTENTS, has_audio=has_audio,
                    may_play=user.may("play"), can_correct=user.may("correct"),
                    message=request.query_params.get("message"))


@router.get("/calls/{call_id}/recording")
def recording(call_id: str, request: Request, user: Principal = Depends(require("play")),
              ctx: Console = Depends(console)):
    call = _call(ctx, call_id)
    path = ctx.recording_file(call.recording)
    if path is None:
        if call.recording:
            log.warning("call %s: recording path %r is not a WAV in the records folder: not served",
                        call_id, call.recording)
        raise HTTPException(404, f"call {call_id!r} has no recording on this server")
    wanted = request.headers.get("range", "")
    if not wanted or wanted.replace(" ", "").startswith("bytes=0-"):  # a fetch from the start, not a seek
        audit(ctx.store, user, "fetch_recording", call_id, range=wanted or None)
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "no-store"})


@router.post("/api/calls/{call_id}/played")
def played(call_id: str, user: Principal = Depends(require("play")), ctx: Console = Depends(console)):
    _call(ctx, call_id)
    audit(ctx.store, user, "play_recording", call_id)
    return {"ok": True}


@router.post("/calls/{call_id}/turns/{index}/intent")
def correct(call_id: str, index: int, intent: str = Form(...), user: Principal = Depends(require("correct")),
            ctx: Console = Depends(console)):
    ctx.store.flush()  # the turn may still be in the writer's queue

    def write(db) -> None:
        turn = correct_intent(db, call_id, index, intent, user.username)
        audit(ctx.store, user, "correct_intent", call_id, turn=index, was=turn.intent, now=intent)
    try:
        ctx.store.write_now(write)
    except CorrectionError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(f"{PREFIX}/calls/{call_id}?message=turn+{index}+corrected#turn-{index}",
                            status_code=303)


@router.get("/corrections.yml")
def corrections(locale: str | None = None, user: Principal = Depends(require("export")),
                ctx: Console = Depends(console)):
    """Corrected debtor turns as Rasa NLU data.  A role that may not see personal values gets
    the debtor's words with them masked where they stood (voicebot/console/views.py)."""
    with ctx.store.session() as db:
        text = export_corrections(db, locale, correction_redactor(user))
    audit(ctx.store, user, "export_corrections", locale or "all")
    return PlainTextResponse(text, media_type="application/x-yaml",
                             headers={"Content-Disposition": 'attachment; filename="corrections.yml"'})


@router.get("/audit")
def audit_page(request: Request, user: Principal = Depends(require("audit")), ctx: Console = Depends(console)):
    return ctx.page(request, user, "audit.html", entries=recent(ctx.store))

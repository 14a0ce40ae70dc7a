"""Dashboard, live view (ongoing calls, handoff queue, claiming a call) and scripts page."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from telephony.bus.base import BusError
from telephony.handoff.queue import HandoffQueue, PacketState, UnknownHandoff
from voicebot.console.auth import Principal
from voicebot.console.charts import bar_chart, minutes, ms, pct
from voicebot.console.deps import PREFIX, Console, console, require
from voicebot.console.graph_svg import stage_svg
from voicebot.console.scripts_view import all_locales
from voicebot.console.views import live_calls, packet_view
from voicebot.records.audit import audit
from voicebot.records.queries import CallFilter, dashboard

router = APIRouter()


@router.get("/dashboard")
def dashboard_page(request: Request, user: Principal = Depends(require("dashboard")),
                   ctx: Console = Depends(console)):
    try:
        flt = CallFilter.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise HTTPException(400, f"bad filter: {exc.errors()[0]['msg']}") from None
    with ctx.store.session() as db:
        board = dashboard(db, flt)
    charts = []
    for title, groups in (("by stage", board.by_stage), ("by day", board.by_day)):
        items = list(groups.items())
        charts.append((title, [
            bar_chart(f"Calls placed {title}", [(k, f.placed) for k, f in items]),
            bar_chart(f"Connect rate {title}", [(k, f.connect_rate) for k, f in items], pct, 1.0),
            bar_chart(f"Right-party contact rate {title}", [(k, f.rpc_rate) for k, f in items], pct, 1.0),
            bar_chart(f"Promise-to-pay rate {title}", [(k, f.ptp_rate) for k, f in items], pct, 1.0),
            bar_chart(f"Escalation rate {title}", [(k, f.escalation_rate) for k, f in items], pct, 1.0),
            bar_chart(f"AI talk time {title}", [(k, f.talk_time_s) for k, f in items], minutes),
            bar_chart(f"Turn latency p50 {title}", [(k, f.latency_p50_ms or 0) for k, f in items], ms),
            bar_chart(f"Turn latency p95 {title}", [(k, f.latency_p95_ms or 0) for k, f in items], ms),
        ]))
    return ctx.page(request, user, "dashboard.html", board=board, charts=charts, flt=flt)


async def _queue_entries(ctx: Console, request: Request) -> list[dict]:
    bus = ctx.live_bus(request.app)
    out = []
    for name in await ctx.agent_queues():
        for entry in await HandoffQueue(bus, name).entries():
            p = entry.packet
            out.append({"call_id": p.call_id, "queue": name, "state": entry.state.value, "reason": p.reason,
                        "account_id": p.account_id, "stage": p.stage, "score": p.score,
                        "claimed_by": entry.claimed_by, "created_at": p.created_at.isoformat()})
    return out


@router.get("/live")
async def live_page(request: Request, user: Principal = Depends(require("live")), ctx: Console = Depends(console)):
    await ctx.board(request)
    return ctx.page(request, user, "live.html", can_claim=user.may("claim"))


@router.get("/api/live")
async def live_api(request: Request, user: Principal = Depends(require("live")), ctx: Console = Depends(console)):
    board = await ctx.board(request)
    try:
        queue, bus_error = await _queue_entries(ctx, request), board.unavailable
    except BusError as exc:  # the calls still show (from the store); the queue needs the bus
        queue, bus_error = [], str(exc)
    calls = await asyncio.to_thread(live_calls, ctx.store, board.snapshot(), user)  # masked for the role
    return {"calls": calls, "queue": queue, "bus_unavailable": bus_error}


async def _queue(ctx: Console, request: Request, name: str) -> HandoffQueue:
    if name not in await ctx.agent_queues():
        raise HTTPException(404, f"no agent queue {name!r}")
    return HandoffQueue(ctx.live_bus(request.app), name)


@router.post("/live/{queue}/{call_id}/claim")
async def claim(request: Request, queue: str, call_id: str, user: Principal = Depends(require("claim")),
                ctx: Console = Depends(console)):
    agents = await _queue(ctx, request, queue)
    try:
        attempt = await agents.claim(call_id, user.username)
    except UnknownHandoff as exc:
        raise HTTPException(404, str(exc)) from None
    audit(ctx.store, user, "claim" if attempt.won else "claim_lost", call_id, queue=queue)
    return RedirectResponse(f"{PREFIX}/live/{queue}/{call_id}", status_code=303)


@router.get("/live/{queue}/{call_id}")
async def packet_page(request: Request, queue: str, call_id: str, user: Principal = Depends(require("live")),
                      ctx: Console = Depends(console)):
    agents = await _queue(ctx, request, queue)
    try:
        entry = await agents.get(call_id)
    except UnknownHandoff as exc:
        raise HTTPException(404, str(exc)) from None
    mine = entry.state is PacketState.CLAIMED and entry.claimed_by == user.username
    if not mine and user.role != "supervisor":
        raise HTTPException(403, f"call {call_id} is {entry.state.value}"
                                 + (f" by {entry.claimed_by}" if entry.claimed_by else "") + ": not yours")
    audit(ctx.store, user, "open_packet", call_id, queue=queue)
    return ctx.page(request, user, "packet.html", entry=entry, packet=packet_view(entry.packet, user), queue=queue)


@router.get("/scripts")
async def scripts_page(request: Request, user: Principal = Depends(require("scripts")),
                       ctx: Console = Depends(console)):
    locales = await asyncio.to_thread(all_locales)
    audit(ctx.store, user, "open_scripts")
    return ctx.page(request, user, "scripts.html", locales=locales, graph_svg=stage_svg)

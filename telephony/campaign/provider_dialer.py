"""A campaign dialer that places real calls through a carrier (a Provider).

The provider only says whether the carrier took the request; the conversation itself runs on
the media-stream server, which may be another process on another machine.  So the outcome is
learnt from the server's live feed: `call.started` (the callee answered and the stream is up)
and `call.ended` (with the call's result), matched by the carrier's call id.  A carrier that
reports call status (Twilio's status callbacks, `call.status` on the same channel) says at once
that the call was busy, unanswered or failed; without that word, no stream within the ring
time counts as no answer, and the call is hung up so it cannot connect later.

With the LocalProvider (development, the demo) each account's `sim_debtor` columns script the
callee, as for SimulatedDialer (both read them through scripted_callee.py), and `sim_answer`
no_answer/busy never connect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from loguru import logger

from telephony.bus.base import Bus
from telephony.bus.live import CALLS_CHANNEL
from telephony.campaign.dialer import CallAnswer, CallRequest
from telephony.campaign.scripted_callee import scripted_debtor, scripted_status
from telephony.providers.base import Provider, ProviderError

NOT_CONNECTED = {"no-answer": "no_answer", "busy": "busy", "failed": "failed", "canceled": "failed"}


def local_callee(request: CallRequest) -> dict[str, Any]:
    """Extra place_call arguments for the LocalProvider: the scripted callee of the row."""
    status = scripted_status(request)
    if status != "answered":
        return {"debtor": {"no_answer": "<no-answer>", "busy": "<busy>"}.get(status, "<no-answer>")}
    return {"debtor": scripted_debtor(request) or "<hangup>"}


class ProviderDialer:
    def __init__(self, provider: Provider, bus: Bus, *, ring_s: float = 45.0, max_call_s: float = 1800.0,
                 place_extra: Callable[[CallRequest], dict[str, Any]] | None = None):
        """ring_s: how long to wait for the stream to start; max_call_s: for it to end.
        place_extra: more place_call arguments per request (local_callee for the LocalProvider)."""
        self.provider, self.bus = provider, bus
        self.ring_s, self.max_call_s = ring_s, max_call_s
        self.place_extra = place_extra

    async def place(self, request: CallRequest) -> CallAnswer:
        account = request.account
        if not account.phone:
            return CallAnswer("failed", error=f"account {account.id} has no phone number")
        extra = self.place_extra(request) if self.place_extra else {}
        async with self.bus.subscribe(CALLS_CHANNEL) as events:
            try:
                placed = await self.provider.place_call(account.phone, account.id, stage=request.stage,
                                                        attempt=request.conversation, locale=account.locale,
                                                        **extra)
            except ProviderError as exc:
                return CallAnswer("failed", error=f"carrier refused the call: {exc}")
            if placed.status in NOT_CONNECTED:
                return CallAnswer(NOT_CONNECTED[placed.status])  # type: ignore[arg-type]
            started = await self._answered(events, placed.call_id)
            if isinstance(started, CallAnswer):  # the carrier said it never connected
                return started
            if started is None:
                with contextlib.suppress(ProviderError):
                    await self.provider.hang_up(placed.call_id)
                return CallAnswer("no_answer")
            ended = await self._next(events, "call.ended", placed.call_id, self.max_call_s)
        if ended is None:
            logger.warning(f"call {placed.call_id} for {account.id}: no end reported in {self.max_call_s} s")
            return CallAnswer("failed", error="the call's end was never reported")
        result = ended.get("result") or {}
        summary = {"call_id": ended.get("call_id"), "carrier_call_id": placed.call_id, "account": account.id,
                   "stage": request.stage, "voice": ended.get("voice") or request.voice,
                   "attempt": request.conversation, **result}
        return CallAnswer("answered", summary)

    async def _answered(self, events, carrier_call_id: str) -> dict[str, Any] | CallAnswer | None:
        """`call.started`, or the carrier's final status for a call that never connected,
        whichever comes first within the ring time; None when neither came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ring_s
        while (left := deadline - loop.time()) > 0:
            event = await events.get(timeout=left)
            if not event or event.get("carrier_call_id") != carrier_call_id:
                continue
            if event.get("type") == "call.started":
                return event
            if event.get("type") == "call.status" and event.get("status") in NOT_CONNECTED:
                return CallAnswer(NOT_CONNECTED[event["status"]])  # type: ignore[arg-type]
        return None

    @staticmethod
    async def _next(events, kind: str, carrier_call_id: str, timeout: float) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            event = await events.get(timeout=left)
            if event and event.get("type") == kind and event.get("carrier_call_id") == carrier_call_id:
                return event
        return None

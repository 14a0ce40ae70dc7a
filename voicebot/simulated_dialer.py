"""The demo and test dialer: a real in-process call (voicebot.simulate.Simulation: synthesised
debtor audio through VAD, ASR, the dialogue engine and TTS) whose debtor is scripted by columns
of the account row (`sim_answer`, `sim_debtor`, `sim_debtor_2`..., `sim_ring_s`: see
telephony/campaign/scripted_callee.py), so a plain CSV describes a whole campaign.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from telephony.campaign.dialer import CallAnswer, CallRequest
from telephony.campaign.scripted_callee import column, scripted_debtor, scripted_status

if TYPE_CHECKING:
    from voicebot.records.store import RecordStore


class SimulatedDialer:
    def __init__(self, speed: float = 4.0, records_dir: Path = Path("var/calls"), ring_s: float = 0.0,
                 sample_rate: int = 8000, records: "RecordStore | None" = None):
        """`records`: every answered call also goes to this records store (the console's calls,
        and the promise book a call's promise is written to)."""
        self.speed, self.records_dir, self.ring_s, self.sample_rate = speed, records_dir, ring_s, sample_rate
        self.records = records

    async def place(self, request: CallRequest) -> CallAnswer:
        status = scripted_status(request)
        if status != "answered":
            ring = column(request, "sim_ring_s")
            await asyncio.sleep(float(ring) if ring else self.ring_s)
            return CallAnswer(status)  # type: ignore[arg-type]
        debtor = scripted_debtor(request)
        if not debtor:
            return CallAnswer("failed", error=f"account {request.account.id} has no sim_debtor lines")
        # Heavy import (models) only when a call is really answered.
        from voicebot.simulate import Simulation, parse_debtor

        extra = {"campaign_call_id": request.call_id, "dial_attempt": request.attempt}
        sim = Simulation(request.account, parse_debtor(debtor), stage=request.stage,
                         attempt=request.conversation, today=request.today, speed=self.speed,
                         sample_rate=self.sample_rate, records_dir=self.records_dir, extra=extra)
        if self.records is not None:
            from voicebot.records.attach import attach_call

            store = self.records
            sim.on_call = lambda call: attach_call(call, store, extra=extra, speed=self.speed)
        result = await sim.run()
        summary = {k: v for k, v in result.summary.items() if k not in ("turns", "event_log")}
        summary["debtor_turns"] = [t["debtor_text"] for t in result.summary.get("turns", []) if t.get("debtor_text")]
        return CallAnswer("answered", summary)

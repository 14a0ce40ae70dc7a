"""The dialogue's call actions, handed to the carrier (a Provider) when they make sense.

The dialogue emits CallActionFrames (transfer, hangup, sms, callback) *before* the words that
announce them ("I'm connecting you now").  Acting at once would cut those words off: a Twilio
transfer redirects the call and ends the stream.  So an SMS goes out at once (it does not touch
the audio), while a transfer or hang-up waits for `at_close`, which the transport runs after
the last audio has played and before the socket closes.  If the caller hangs up first there is
nobody to transfer; the record says so.  Every outcome is noted on the call's event log.
When the agent queue answers (HandoffDecisionFrame), a claimed transfer goes to the agent's
endpoint if the desk gave one, and an unclaimed one is dropped: the bot takes a callback time.

The log is a record, so an SMS's number is kept there masked (`+*******0101`, as in the handoff
packet) and so is any number in a carrier's error; the whole number is held only in memory
until the message is sent.  A transfer's `to` is the bank's own agent line or desk endpoint,
not the debtor's, and stays as it is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loguru import logger
from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from dialogue.phone_masking import mask_numbers_in, mask_phone
from dialogue.session import CallSession
from telephony.providers.base import Provider
from voicebot.frames import CallActionFrame, HandoffDecisionFrame

AT_CLOSE = ("transfer", "hangup")
SMS_WAIT_S = 5.0


class CarrierActions(FrameProcessor):
    def __init__(self, provider: Provider, session: CallSession, call_id: str,
                 transfer_numbers: dict[str, str] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._provider, self._session, self._call_id = provider, session, call_id
        self._numbers = transfer_numbers or {}
        self.log: list[dict[str, Any]] = []   # the call record's `carrier_actions`
        self._pending: list[dict[str, Any]] = []
        self._sms: set[asyncio.Task] = set()

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, CallActionFrame):
            self._take(dict(frame.action))
        elif isinstance(frame, HandoffDecisionFrame):
            self._decided(frame)
        await self.push_frame(frame, direction)

    def _take(self, action: dict[str, Any]) -> None:
        kind = action.get("kind")
        entry = {"kind": kind, "status": "pending"}
        self.log.append(entry)
        if kind in AT_CLOSE:
            self._pending.append(entry)
            if kind == "transfer":
                entry["to"] = self._numbers.get(action.get("queue") or "", self._session.account.agent_line)
                entry["queue"], entry["reason"] = action.get("queue"), action.get("reason")
        elif kind == "sms":
            number = self._session.account.phone
            entry["to"], entry["template"] = mask_phone(number), action.get("template")
            task = asyncio.create_task(self._send_sms(entry, number, action.get("text") or ""))
            self._sms.add(task)
            task.add_done_callback(self._sms.discard)
        else:
            entry["status"] = "recorded"  # callback times are for the campaign, not the carrier
            entry.update({k: v for k, v in action.items() if k != "kind"})

    def _decided(self, frame: HandoffDecisionFrame) -> None:
        for entry in [e for e in self._pending if e["kind"] == "transfer"]:
            if frame.claimed:
                entry["agent_id"] = frame.agent_id
                entry["to"] = frame.endpoint or entry["to"]
            else:
                self._pending.remove(entry)
                self._done(entry, "cancelled: no agent claimed the call in time")

    async def _send_sms(self, entry: dict[str, Any], number: str | None, text: str) -> None:
        """Send to the whole `number`; the entry (a record) only ever holds it masked."""
        if not number:
            return self._done(entry, "skipped: the account has no phone number")
        try:
            entry["message_id"] = await self._provider.send_sms(number, text)
            self._done(entry, "sent")
        except Exception as exc:  # a carrier's error may quote the number it refused
            self._done(entry, f"failed: {mask_numbers_in(str(exc))}")

    async def at_close(self) -> None:
        """The last audio has played: carry out the transfer (or hang-up) the dialogue decided."""
        for entry in self._pending:
            try:
                if entry["kind"] == "transfer":
                    await self._provider.transfer(self._call_id, entry["to"])
                else:
                    await self._provider.hang_up(self._call_id)
                self._done(entry, "done")
            except Exception as exc:
                self._done(entry, f"failed: {exc}")
        self._pending.clear()
        await self.settle()

    async def settle(self, wait_s: float = SMS_WAIT_S) -> None:
        """Wait (bounded) for SMS still being sent; mark what can no longer happen."""
        if self._sms and wait_s > 0:
            await asyncio.wait(set(self._sms), timeout=wait_s)
        for entry in self._pending:
            self._done(entry, "skipped: the call ended before the bot's last words were heard")
        self._pending.clear()

    def _done(self, entry: dict[str, Any], status: str) -> None:
        entry["status"] = status
        level = "warning" if status.startswith("failed") else "info"
        logger.log(level.upper(), f"call {self._call_id}: {entry['kind']} {status}")
        try:
            self._session.note(f"carrier_{entry['kind']}", **{k: v for k, v in entry.items() if k != "kind"})
        except ValueError:  # the call record was already closed (an SMS answered very late)
            pass

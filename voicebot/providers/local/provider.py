"""LocalProvider: a phone carrier played on this machine, for development, tests and the demo.

Placing a call connects to the media-stream server exactly as Twilio would (or as a PCM
switch would) and plays the callee: a scripted debtor whose lines are synthesised with a
catalogue voice before the call starts.  Transfers, hang-ups and SMS are recorded in memory
(and logged), so a server using this provider shows what a real carrier would have been
asked to do; transferring or hanging up a call this provider placed ends its stream, as a
carrier does.  Special debtor scripts `<no-answer>` and `<busy>` never connect, so campaign
code can exercise its retry rules.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any, Literal
from urllib.parse import urlencode

from loguru import logger

from audio_models.catalogue import load_catalogue
from dialogue.phone_masking import mask_phone
from telephony.providers.base import PlacedCall
from telephony.carriers.twilio.signature import twilio_signature
from voicebot.providers.local.carrier import LocalCallResult, LocalCarrierCall
from voicebot.providers.local.wire import PcmWire, TwilioWire

NOT_CONNECTED = {"<no-answer>": "no-answer", "<busy>": "busy"}
DEFAULT_DEBTOR = "yes this is me|<hangup>"


class LocalProvider:
    name = "local"

    def __init__(self, server_url: str | None = None, *, token: str | None = None,
                 token_in: Literal["query", "header", "parameter"] = "query",
                 twilio_auth_token: str | None = None, protocol: Literal["twilio", "pcm"] = "twilio",
                 sample_rate: int = 8000, debtor: str = DEFAULT_DEBTOR, debtor_voice: str | None = None):
        """server_url: the media-stream server, e.g. "ws://127.0.0.1:8080".
        token / token_in: how to authenticate (query string, Bearer header, or Twilio stream
        parameter); twilio_auth_token: sign the handshake as Twilio does instead.
        protocol, sample_rate: which endpoint to call (the PCM one runs at 8 or 16 kHz).
        debtor: the default script, "line|line|..." as `voicebot simulate --debtor` takes it.
        debtor_voice: catalogue voice for the debtor (default: the locale's first)."""
        self.server_url = server_url.rstrip("/") if server_url else None
        self.token, self.token_in, self.twilio_auth_token = token, token_in, twilio_auth_token
        self.protocol, self.sample_rate = protocol, sample_rate
        self.debtor, self.debtor_voice = debtor, debtor_voice
        self.calls: dict[str, LocalCallResult] = {}
        self.transfers: list[dict[str, Any]] = []
        self.hangups: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self._live: dict[str, LocalCarrierCall] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._sms_ids = itertools.count(1)
        self._lock = threading.Lock()  # the server may report actions from another thread

    async def place_call(self, to: str, account_id: str, *, stage: str | None = None,
                         attempt: int = 1, locale: str | None = None, debtor: str | None = None,
                         protocol: Literal["twilio", "pcm"] | None = None,
                         sample_rate: int | None = None, amd: bool = False,
                         answered_by: str | None = None, inbound_from: str | None = None) -> PlacedCall:
        """`inbound_from`: the debtor calls us from that number (a callback) instead; the start
        then names the caller, not an account, as a carrier's inbound webhook would."""
        from voicebot.simulate import make_lines, parse_debtor  # heavy: models
        from voicebot.transports.simulated import ScriptedDebtor

        if self.server_url is None:
            raise RuntimeError("this LocalProvider has no server_url: it can record actions, not place calls")
        script, protocol = debtor or self.debtor, protocol or self.protocol
        params = {k: v for k, v in {"account": account_id or None, "stage": stage, "attempt": str(attempt),
                                    "locale": locale}.items() if v is not None}
        if inbound_from is not None:
            params.update(direction="inbound", caller=inbound_from)
        if self.token and self.token_in == "parameter":
            params["token"] = self.token
        if amd:  # as a <Stream> <Parameter> would pass them; AnsweredBy as Twilio's AMD names it
            params["amd"] = "true"
        if answered_by:
            params["AnsweredBy"] = answered_by
        rate = 8000 if protocol == "twilio" else (sample_rate or self.sample_rate)
        wire = TwilioWire(params) if protocol == "twilio" else PcmWire(params, rate=rate)
        result = LocalCallResult(wire.call_sid, account_id, protocol)
        self.calls[wire.call_sid] = result
        if script.strip() in NOT_CONNECTED:
            result.status = NOT_CONNECTED[script.strip()]
            return PlacedCall(wire.call_sid, to, account_id, result.status)
        voice = self.debtor_voice or load_catalogue().voices_for(locale or "en")[0].id
        lines = await make_lines(parse_debtor(script), voice, rate)
        url, headers = self._endpoint(wire.path)
        call = LocalCarrierCall(url, wire, ScriptedDebtor(lines, rate), result, headers)
        self._live[wire.call_sid] = call
        self._tasks[wire.call_sid] = asyncio.create_task(call.run())
        return PlacedCall(wire.call_sid, to, account_id, "in-progress",
                          {"protocol": protocol, "sample_rate": rate, "debtor_voice": voice})

    def _endpoint(self, path: str) -> tuple[str, dict[str, str]]:
        url, headers = self.server_url + path, {}
        if self.token and self.token_in == "query":
            url += "?" + urlencode({"token": self.token})
        elif self.token and self.token_in == "header":
            headers["Authorization"] = f"Bearer {self.token}"
        if self.twilio_auth_token:
            headers["X-Twilio-Signature"] = twilio_signature(self.twilio_auth_token, url)
        return url, headers

    async def wait(self, call_id: str, timeout: float | None = None) -> LocalCallResult:
        """The call's result once it has ended (at once for a call that never connected)."""
        task = self._tasks.get(call_id)
        if task is not None:
            await asyncio.wait_for(asyncio.shield(task), timeout)
            self._live.pop(call_id, None)
        return self.calls[call_id]

    async def transfer(self, call_id: str, to: str) -> None:
        self._record(self.transfers, call_id=call_id, to=to)
        self._end(call_id, "transferred")

    async def hang_up(self, call_id: str) -> None:
        self._record(self.hangups, call_id=call_id)
        self._end(call_id, "completed")

    async def send_sms(self, to: str, body: str) -> str:
        message_id = f"SM-local-{next(self._sms_ids)}"
        self._record(self.messages, id=message_id, to=to, body=body, masked=("to",))
        return message_id

    def _record(self, log: list[dict[str, Any]], *, masked: tuple[str, ...] = (), **entry: Any) -> None:
        """Keep the entry whole (tests read what was sent); log the debtor's number masked."""
        with self._lock:
            log.append({**entry, "at": time.time()})
        shown = {k: mask_phone(v) if k in masked else v for k, v in entry.items()}
        logger.info(f"local carrier: {shown}")

    def _end(self, call_id: str, status: str) -> None:
        call = self._live.get(call_id)
        if call is not None:
            call.end(status)

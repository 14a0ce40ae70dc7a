"""One media stream = one call session running the voice loop of `voicebot simulate`.

The same assembly as a simulated call (build_call/run_call with the parts call_parts picks),
with the carrier's WebSocket as transport.  What is added here is what only a live stream
needs: the carrier's serializer at the pipeline's rate, the dialogue's actions handed to the
carrier (CarrierActions), and the stream ending from either side: the dialogue ends the call
(pipecat sends the last audio, then the socket closes), the carrier hangs up, the peer sends
something malformed (closed with its 4400-range code), its media stops for `media_timeout_s`
(a dropped line), or the call runs past its maximum.  Every way, the call record is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket
from loguru import logger
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams

from dialogue.accounts import Account
from dialogue.engine import engine_for
from dialogue.session import CallSession
from telephony.bus.base import Bus
from telephony.bus.live import CallFeed
from telephony.campaign.opt_outs import OptOuts
from telephony.carriers.base import Pacing
from telephony.carriers.stream_start import StreamStart
from telephony.handoff.live_call import QueueEscalation
from telephony.providers.base import Provider
from voicebot.pipeline.amd_processor import AmdSetup, amd_setup
from voicebot.pipeline.builder import CallParts, build_call, run_call
from voicebot.pipeline.parts import call_parts
from voicebot.records.attach import attach_call
from voicebot.server.actions import CarrierActions
from voicebot.server.caller_lockout import verification_locked
from voicebot.server.compliance_gate import CallStartGate
from voicebot.server.follow_up import as_follow_up
from voicebot.server.errors import BAD_START, SERVER_ERROR, TIMED_OUT, StreamError
from voicebot.server.media_gap import end_when_media_stops
from voicebot.server.metrics import observe_turn
from voicebot.server.opt_out_guard import opted_out_at_start, watch_call
from voicebot.server.settings import ServerSettings
from voicebot.server.transport import MediaStreamTransport
from voicebot.server.warmup import load_models

#: Which replica served a call (host and process), in its record: behind a proxy, the place
#: to look for its logs and its recording.
SERVER_ID = f"{socket.gethostname()}:{os.getpid()}"
STARTED_WAIT_S = 5.0
IDLE_BACKSTOP_S = 120.0
# Bot audio per message to the carrier (`settings.output_frame_ms`, default 100 ms). Every message
# is one trip through pipecat's output queue, the serializer (mu-law, base64, JSON), the socket and
# the recorder, all on the event loop; pipecat's default is 40 ms (25 messages a second per call).
# At 40 calls, 100 ms took processing p95 from 1.8-8 s to 0.3 s (docs/performance.md). Carriers
# take media messages of any length, and a barge-in clears what they buffered, so longer ones
# cost no responsiveness.


@dataclass
class StreamCall:
    """Everything one call needs from the server: the socket, what it said, and shared services."""

    websocket: WebSocket
    start: StreamStart
    account: Account
    serializer: FrameSerializer
    settings: ServerSettings
    provider: Provider
    pacing: Pacing = field(default_factory=Pacing)  # how the carrier takes the bot's audio
    bus: Bus | None = None  # live feed and agent queue; None: transfers go to the queue's line
    opt_outs: OptOuts | None = None  # checked at the start, written when the debtor opts out
    other_accounts: list[Account] = field(default_factory=list)  # inbound: the caller's number's others
    attempt_id: str | None = field(default=None, init=False)  # this call in the contact history

    async def run(self) -> dict[str, Any]:
        """Run the call to its end; returns the call summary (also written to the records dir).

        Every log line of the call (its pipeline's tasks inherit the context) carries its call
        id in `extra["call_id"]`: forty calls interleave in one log."""
        gate = self.websocket.app.state.call_gate  # contact rules with the whole history
        try:
            session, parts = await self._open_session(gate)
            with logger.contextualize(call_id=session.call_id):
                summary = await self._run(session, parts)
        except BaseException:
            gate.finish(self.attempt_id, None)  # admitted, never ran to its end
            raise
        gate.finish(self.attempt_id, summary)
        return summary

    async def _run(self, session: CallSession, parts: CallParts) -> dict[str, Any]:
        settings, start = self.settings, self.start
        if self.opt_outs is not None:  # before the first turn: journaled the moment it is heard
            watch_call(self.opt_outs, session, start.call_id)
        call_id = start.call_id or session.call_id
        actions = CarrierActions(self.provider, session, call_id, settings.transfer_numbers)
        parts.extra_processors.append(actions)
        params = FastAPIWebsocketParams(
            audio_in_enabled=True, audio_out_enabled=True,
            audio_in_sample_rate=settings.sample_rate, audio_out_sample_rate=settings.sample_rate,
            audio_out_end_silence_secs=settings.end_silence_s,
            audio_out_10ms_chunks=max(1, (self.pacing.frame_ms or settings.output_frame_ms) // 10),
            fixed_audio_packet_size=self.pacing.packet_bytes,
            serializer=self.serializer, session_timeout=settings.max_call_s,
            allowed_origins=[],  # carriers send no Origin; a token or signature already vouched
        )
        lead_s = settings.playback_lead_s if self.pacing.lead_s is None else self.pacing.lead_s
        transport = MediaStreamTransport(self.websocket, params, end_mark_timeout_s=settings.end_mark_timeout_s,
                                         playback_lead_s=lead_s)
        outbox = getattr(self.websocket.app.state, "handoff_outbox", None)  # packets the bus could not take
        escalation = (QueueEscalation(self.bus, settings.handoff_timeout_s, outbox)
                      if self.bus is not None and settings.handoff_timeout_s > 0 else None)
        # No pipecat idle timeout: its observer is fed every frame at every processor (3 % of a
        # loaded server's CPU), and a live call is bounded already: the dialogue reprompts and
        # closes a silent line, a hold has its handoff timeout, the stream has `max_call_s`
        # (without that cap, the idle timeout stays as the backstop).
        call = build_call(transport, session, parts, settings.records_dir, escalate=escalation,
                          amd=self._amd(session),
                          idle_timeout_s=None if settings.max_call_s else IDLE_BACKSTOP_S)
        attach_call(call, getattr(self.websocket.app.state, "records", None))  # the console's store
        call.dialogue.timing_listeners.append(observe_turn)  # /metrics: the record's own timings
        extra: dict[str, Any] = {
            "carrier": start.carrier, "carrier_call_id": start.call_id, "stream_id": start.stream_id,
            "stream_sample_rate": start.sample_rate, "direction": start.direction, **start.extra,
            "server": SERVER_ID,
            "ended_by": "bot",
            "carrier_actions": actions.log,
        }

        async def _mark_heard() -> None:
            extra["end_mark_played"] = transport.end_mark_played  # None: no marks (PCM) or none awaited

        transport.before_close += [_mark_heard, actions.at_close]
        if escalation is not None:  # the packet has its callback time before the line drops
            transport.before_close.append(lambda: escalation.finish(session))
        started = asyncio.Event()
        watchers: list[asyncio.Task] = []

        @call.worker.event_handler("on_pipeline_started")
        async def _started(_worker, _frame):
            started.set()
            if settings.media_timeout_s:  # the media clock starts once the pipeline reads the socket
                watchers.append(asyncio.create_task(end_when_media_stops(
                    lambda: transport.serializer.last_audio_at, settings.media_timeout_s, _dropped)))

        async def _dropped() -> None:
            # Once the dialogue has ended the call, the socket is no longer read while its last
            # words play out (bounded by their length and the end mark's wait): not a drop.
            if transport.reading:
                logger.warning(f"call {session.call_id}: no media for {settings.media_timeout_s:g} s, "
                               "ending it as a dropped line")
                # shielded: the watcher is cancelled when the call ends, which this very stop causes
                await asyncio.shield(stop("line_dropped", TIMED_OUT,
                                          f"no media for {settings.media_timeout_s:g} s: line dropped"))

        async def stop(by: str, code: int | None = None, reason: str | None = None) -> None:
            extra["ended_by"] = by
            if code is not None:
                extra["close"] = {"code": code, "reason": reason}
                await transport.close(code, reason or "")
            session.note("stream_closed", by=by, code=code, reason=reason)
            await actions.settle(wait_s=1.0)
            # A cancel issued while the StartFrame is still travelling is never pushed through
            # the pipeline, and processors it already started (the recogniser's segment task)
            # would be left running: let the start finish first (it takes milliseconds).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(started.wait(), STARTED_WAIT_S)
            await call.worker.cancel(reason=f"stream closed by {by}")

        @transport.event_handler("on_client_disconnected")
        async def _disconnected(_transport, _websocket):
            error = transport.serializer.error
            if error is not None:
                logger.warning(f"call {session.call_id}: closing the stream: {error.code} {error.reason}")
                await stop("protocol_error", error.code, error.reason)
            else:
                await stop("carrier")

        @transport.event_handler("on_session_timeout")
        async def _too_long(_transport, _websocket):
            await stop("timeout", TIMED_OUT, f"call exceeded {settings.max_call_s} s")

        logger.info(f"call {session.call_id} ({start.carrier} {call_id}) for account {self.account.id} "
                    f"stage {session.stage} voice {session.voice}")
        feed = CallFeed(self.bus, session) if self.bus is not None else None
        ids = {"carrier_call_id": start.call_id, "voice": session.voice}
        if feed is not None:
            await feed.start(**ids)
        try:
            summary = await run_call(call, extra)
        finally:
            for watcher in watchers:
                watcher.cancel()
            if feed is not None:
                await feed.end(**ids)
        logger.info(f"call {session.call_id} ended by {extra['ended_by']}: outcome {summary['outcome']}")
        return summary

    def _amd(self, session: CallSession) -> AmdSetup | None:
        """Answering-machine detection when the start asked for it (or the carrier answered it)."""
        if not self.start.amd:
            return None
        try:
            return amd_setup(session, self.start.answered_by)
        except ValueError as exc:  # a bad `amd:` in the strategy, an unknown jurisdiction
            raise StreamError(BAD_START, f"answering-machine detection: {exc}") from None

    async def _open_session(self, gate: CallStartGate) -> tuple[CallSession, CallParts]:
        """The dialogue session and the models it uses; StreamError if the start asks for the
        impossible (an unknown locale or stage) or this server lacks the locale's models."""
        start, locale = self.start, self.start.locale or self.account.locale
        stopped = self.opt_outs is not None and await opted_out_at_start(self.opt_outs, self.account.id)
        if start.direction == "outbound":  # an account with a broken promise: its follow-up
            self.account = await as_follow_up(self.account, getattr(self.websocket.app.state, "records", None))
        # window, holidays, opt-out, and the attempt caps over every source's attempts
        self.attempt_id = await gate.admit(self.account, start, opted_out=stopped)
        inbound = start.direction == "inbound"
        locked = inbound and await verification_locked(getattr(self.websocket.app.state, "records", None),
                                                       start.caller, self.settings)
        try:
            engine = await asyncio.to_thread(engine_for, locale)
            session = engine.start_call(self.account, stage=start.stage, attempt=start.attempt,
                                        today=self.settings.call_date, inbound=inbound,
                                        other_accounts=self.other_accounts, verification_locked=locked)
            if session.inbound and session.policy.stage.inbound_start is None:
                raise StreamError(BAD_START, f"the {session.stage} script has no inbound_start for a call "
                                             "the debtor placed")
        except FileNotFoundError:
            raise StreamError(BAD_START, f"no scripts for locale {locale!r}") from None
        except KeyError as exc:  # unknown stage; the message lists the stages there are
            raise StreamError(BAD_START, str(exc.args[0] if exc.args else exc)) from None
        try:
            await asyncio.to_thread(load_models, engine.scripts.locale, [session.voice])
            parts = call_parts(session, self.settings.sample_rate)
        except Exception as exc:  # the server's installation, not the caller, is at fault
            logger.error(f"cannot run a call in locale {locale!r}: {exc}")
            raise StreamError(SERVER_ERROR, f"this server cannot run calls in locale {locale!r}") from None
        return session, parts

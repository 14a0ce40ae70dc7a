"""pipecat's FastAPI WebSocket transport, with the two things a carrier stream adds.

1. A stream can be *refused mid-call*: when the serializer rejects a message (StreamError),
   pipecat's input loop stops; the transport keeps that error so the server can close the
   socket with its code and reason, once, instead of pipecat's plain 1000.
2. A call *ends after its last words are heard*: when the dialogue ends the call, pipecat sends
   the remaining audio (paced in real time, then `audio_out_end_silence_secs` of silence) and
   the serializer's final message (its carrier's playback mark: Twilio's and Telnyx's `mark`,
   Plivo's `checkpoint`, Vonage's `notify`, Asterisk's `MARK_MEDIA`).  Before the socket
   closes, this transport waits (bounded) for the carrier to echo that mark, i.e. to confirm
   playback finished (`telephony.carriers.base.MarksPlayback`), and runs the `before_close`
   hooks: a transfer must reach the carrier while the call is still up.
3. The bot's audio is sent *ahead of the carrier's playback* by `playback_lead_s`. pipecat paces
   a WebSocket in real time, one message ahead, so any stall of the event loop longer than a
   frame reaches the caller as a break in the bot's speech; a carrier buffers what it gets
   (and drops it on a barge-in's `clear`), so a lead costs no responsiveness.
4. The time of the last audio frame read is kept (`GuardedSerializer.last_audio_at`): a line
   whose media stops is a dropped line (`voicebot.server.media_gap`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import WebSocket
from loguru import logger
from pipecat.frames.frames import EndFrame, Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketClient,
    FastAPIWebsocketInputTransport,
    FastAPIWebsocketOutputTransport,
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)

from telephony.carriers.base import MarksPlayback
from telephony.carriers.errors import SERVER_ERROR, StreamError
from voicebot import pipecat_internals


class GuardedSerializer(FrameSerializer):
    """Delegates to the carrier's serializer; keeps the error that ended its input, and when
    the last audio frame came in."""

    def __init__(self, inner: FrameSerializer):
        super().__init__()
        self.inner = inner
        self.error: StreamError | None = None
        self.last_audio_at: float | None = None  # time.monotonic() of the last audio frame read

    async def setup(self, setup: FrameProcessorSetup):
        await self.inner.setup(setup)

    async def serialize(self, frame: Frame) -> str | bytes | None:
        return await self.inner.serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            frame = await self.inner.deserialize(data)
        except StreamError as exc:
            self.error = self.error or exc
            raise
        except Exception as exc:  # a bug of ours, not the peer's fault: say so (details in the log)
            logger.exception(f"{self}: cannot read a message: {exc}")
            self.error = self.error or StreamError(SERVER_ERROR, "server error reading the stream")
            raise
        if isinstance(frame, InputAudioRawFrame):
            self.last_audio_at = time.monotonic()
        return frame


class _Input(FastAPIWebsocketInputTransport):
    reading = True  # False once pipecat's receive loop is gone and the socket is free to read

    async def stop(self, frame: EndFrame):
        await super().stop(frame)
        self.reading = False


class _Output(FastAPIWebsocketOutputTransport):
    def __init__(self, transport: MediaStreamTransport, client: FastAPIWebsocketClient,
                 params: FastAPIWebsocketParams, *, playback_lead_s: float, **kwargs: Any):
        super().__init__(transport, client, params, **kwargs)
        self.stream, self.client, self.playback_lead_s = transport, client, playback_lead_s

    async def _write_audio_sleep(self):  # pipecat_internals.PACING_HOOK
        # pipecat's clock, kept as the carrier's playback end (reset to 0 by a barge-in): send
        # the next message once playback is within the lead of running out.
        now = time.monotonic()
        next_send, interval = pipecat_internals.pacing_clock(self)
        next_send = max(next_send, now) + interval
        pipecat_internals.set_next_send_time(self, next_send)
        await asyncio.sleep(max(0.0, next_send - self.playback_lead_s - now))

    async def stop(self, frame: EndFrame):
        # As FastAPIWebsocketOutputTransport.stop, with the carrier's ending before disconnect.
        await BaseOutputTransport.stop(self, frame)  # remaining audio and end silence sent
        await pipecat_internals.write_frame(self, frame)  # the serializer's last word (Twilio: mark)
        await self.stream.finish_stream()
        await self.client.disconnect()


class MediaStreamTransport(FastAPIWebsocketTransport):
    def __init__(self, websocket: WebSocket, params: FastAPIWebsocketParams, *,
                 end_mark_timeout_s: float = 2.0, playback_lead_s: float = 0.0):
        assert params.serializer is not None
        self.serializer = GuardedSerializer(params.serializer)
        params = params.model_copy(update={"serializer": self.serializer})
        super().__init__(websocket, params)
        self._websocket = websocket
        self._socket = pipecat_internals.websocket_client(self)
        self._reader = _Input(self, self._socket, params)
        self._writer = _Output(self, self._socket, params, playback_lead_s=playback_lead_s)
        inner = self.serializer.inner
        self._marks = inner if isinstance(inner, MarksPlayback) else None
        self._end_mark_timeout_s = end_mark_timeout_s
        self.end_mark_played: bool | None = None
        self.before_close: list[Callable[[], Awaitable[None]]] = []

    def input(self) -> _Input:
        return self._reader

    def output(self) -> _Output:
        return self._writer

    @property
    def reading(self) -> bool:
        """Whether pipecat still reads the carrier's messages (False once the call is ending)."""
        return self._reader.reading

    async def finish_stream(self) -> None:
        if self._marks is not None and not self._reader.reading:
            self.end_mark_played = await self._await_mark(self._marks)
        for hook in self.before_close:
            try:
                await hook()
            except Exception as exc:  # the call is over either way; the record says what failed
                logger.exception(f"{self}: before-close hook failed: {exc}")

    async def _await_mark(self, marks: MarksPlayback) -> bool:
        """Read the socket until the carrier echoes the end mark (all audio played), closes, or
        time is up."""
        try:
            async with asyncio.timeout(self._end_mark_timeout_s):
                while True:
                    message = await self._websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        return False
                    data = message.get("text") if message.get("text") is not None else message.get("bytes")
                    if data is not None and marks.is_end_mark(data):
                        return True
        except (TimeoutError, RuntimeError):
            return False

    async def close(self, code: int, reason: str) -> None:
        """Close the socket with a code and reason, once (pipecat then skips its own close)."""
        if self._socket.is_closing or not self._socket.is_connected:
            return
        pipecat_internals.mark_client_closing(self._socket)  # no public way to close with a code
        try:
            await self._websocket.close(code=code, reason=reason)
        except Exception as exc:  # the peer may already be gone
            logger.debug(f"{self}: close {code} failed: {exc}")

"""An AudioSocket TCP connection, made to look like the WebSocket the server's calls run on.

The server runs every call the same way (admission, the call's pipeline on pipecat's FastAPI
WebSocket transport, close codes, the call record).  Rather than a second transport, a TCP
connection is presented with the few things that path reads of a Starlette WebSocket:
`receive()` hands out one whole TLV frame per message, `send_bytes()` writes frames, and
`close(code, reason)` sends AudioSocket's hang-up frame (the code and reason go to the log: the
protocol cannot carry them) and closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from loguru import logger
from starlette.datastructures import URL, Headers, QueryParams
from starlette.websockets import WebSocketState

from telephony.carriers.asterisk.audiosocket import frames

LINGER_S = 1.0  # after the hang-up frame, how long the peer's last audio is read before closing


class Address(NamedTuple):
    host: str
    port: int


class AudioSocketConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, app: Any = None):
        peer = writer.get_extra_info("peername") or ("unknown", 0)
        self.client = Address(str(peer[0]), int(peer[1]))
        self.url = URL(f"tcp://{self.client.host}:{self.client.port}/audiosocket")
        self.headers, self.query_params = Headers(), QueryParams("")
        self.app = app  # the server app, whose state holds the records store
        self.client_state = self.application_state = WebSocketState.CONNECTING
        self.close_code: int | None = None
        self._reader, self._writer = reader, writer

    async def accept(self) -> None:
        self.client_state = self.application_state = WebSocketState.CONNECTED

    async def receive(self) -> dict[str, Any]:
        data = None if self.client_state == WebSocketState.DISCONNECTED else await frames.read_frame(self._reader)
        if data is None:
            self.client_state = WebSocketState.DISCONNECTED
            return {"type": "websocket.disconnect", "code": 1000}
        return {"type": "websocket.receive", "bytes": data}

    async def send_bytes(self, data: bytes) -> None:
        if self.application_state != WebSocketState.CONNECTED:
            raise RuntimeError("AudioSocket connection is closed")
        self._writer.write(data)
        await self._writer.drain()

    async def _discard_rest(self) -> None:
        while await self._reader.read(4096):
            pass

    async def send_text(self, data: str) -> None:
        raise RuntimeError("AudioSocket carries no text")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.application_state == WebSocketState.DISCONNECTED:
            return
        self.application_state, self.close_code = WebSocketState.DISCONNECTED, code
        if code != 1000:
            logger.info(f"AudioSocket {self.client.host}:{self.client.port}: hanging up ({code} {reason})")
        with contextlib.suppress(ConnectionError, RuntimeError, OSError):
            self._writer.write(frames.Frame(frames.HANGUP).encode())
            await self._writer.drain()
            if self._writer.can_write_eof():
                self._writer.write_eof()
        # Closing with the peer's audio still unread makes the kernel send a reset, which can
        # destroy the hang-up frame before the peer reads it: read what it still sends (until
        # it closes, or LINGER_S) first.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._discard_rest(), LINGER_S)
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        self.client_state = WebSocketState.DISCONNECTED


async def listen(host: str, port: int, serve: Callable[[AudioSocketConnection], Awaitable[None]],
                 app: Any = None) -> asyncio.Server:
    """A TCP listener running `serve` (the server's per-stream function) for each connection."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = AudioSocketConnection(reader, writer, app)
        try:
            await serve(connection)
        finally:
            await connection.close(1000, "call ended")

    server = await asyncio.start_server(handle, host, port)
    logger.info(f"AudioSocket listener on {host}:{port}")
    return server

"""FAKE carriers' media clients for the served-carrier tests: Telnyx, Plivo, Vonage, Asterisk.

None of these networks can be reached from here, so each class below speaks its carrier's
WebSocket (or TCP) media protocol as the carrier's documentation describes it, message for
message: the opening (Telnyx `connected` + `start`, Plivo `start` with `extra_headers`, Vonage
`websocket:connected` with the NCCO headers, Asterisk `MEDIA_START` in plain text or JSON,
AudioSocket's UUID frame), 20 ms of caller audio per message in the carrier's encoding, keypad
digits, playback-mark echoes once the audio before them has played, and the carrier's way of
hanging up.  They plug into the local carrier's call loop (`LocalCarrierCall`: a scripted
debtor, played in real time), exactly as its Twilio and PCM wires do, and keep what they
received so a test can check it came in the carrier's format.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

import websockets

from telephony.carriers.asterisk.audiosocket import frames
from voicebot.providers.local.carrier import LocalCarrierCall
from voicebot.providers.local.wire import Incoming

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class TelnyxWire:
    """Telnyx media streaming (bidirectional RTP mode, PCMU): JSON events, base64 payloads."""

    params: dict[str, Any]     # the start's custom_parameters
    rate: int = 8000
    path: str = "/media/telnyx"
    call_sid: str = field(default_factory=lambda: "v3:" + uuid.uuid4().hex)
    stream_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received: list[dict] = field(default_factory=list)
    _seq: int = 0

    def _event(self, event: str, **body: Any) -> str:
        self._seq += 1
        return json.dumps({"event": event, "sequence_number": str(self._seq), "stream_id": self.stream_id, **body})

    def opening(self) -> list[str]:
        start = {"user_id": str(uuid.uuid4()), "call_control_id": self.call_sid, "client_state": None,
                 "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1},
                 "custom_parameters": self.params}
        return [json.dumps({"event": "connected", "version": "1.0.0"}), self._event("start", start=start)]

    def audio(self, pcm: bytes, timestamp_ms: int) -> str:
        return self._event("media", media={"track": "inbound", "chunk": str(self._seq), "timestamp": str(timestamp_ms),
                                           "payload": b64(audioop.lin2ulaw(pcm, 2))})

    def dtmf(self, digit: str) -> str:
        return self._event("dtmf", occurred_at="2026-11-23T10:00:00Z", dtmf={"digit": digit})

    def mark(self, name: str) -> str:
        return self._event("mark", mark={"name": name})

    def stop(self) -> str:
        return self._event("stop", stop={"user_id": "u", "call_control_id": self.call_sid})

    def parse(self, message: str | bytes) -> Incoming:
        event = json.loads(message)
        self.received.append(event)
        if event["event"] == "media":
            return Incoming("audio", audioop.ulaw2lin(base64.b64decode(event["media"]["payload"]), 2))
        if event["event"] == "mark":
            return Incoming("mark", name=event["mark"]["name"])
        return Incoming("clear" if event["event"] == "clear" else "other")


@dataclass
class PlivoWire:
    """Plivo audio streams (bidirectional, audio/x-mulaw;rate=8000): no `stop`, the socket closes."""

    extra_headers: str
    rate: int = 8000
    path: str = "/media/plivo"
    call_sid: str = field(default_factory=lambda: str(uuid.uuid4()))
    stream_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received: list[dict] = field(default_factory=list)
    _seq: int = 0

    def _event(self, event: str, **body: Any) -> str:
        self._seq += 1
        return json.dumps({"event": event, "sequenceNumber": self._seq, "streamId": self.stream_id, **body})

    def opening(self) -> list[str]:
        start = {"callId": self.call_sid, "streamId": self.stream_id, "accountId": "MA" + "X" * 18,
                 "tracks": ["inbound"], "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000}}
        self._seq += 1
        return [json.dumps({"event": "start", "sequenceNumber": self._seq, "start": start,
                            "extra_headers": self.extra_headers})]

    def audio(self, pcm: bytes, timestamp_ms: int) -> str:
        return self._event("media", media={"track": "inbound", "timestamp": str(int(time.time() * 1000)),
                                           "chunk": self._seq, "payload": b64(audioop.lin2ulaw(pcm, 2))},
                           extra_headers=self.extra_headers)

    def dtmf(self, digit: str) -> str:
        return self._event("dtmf", dtmf={"track": "inbound", "digit": digit, "timestamp": str(int(time.time() * 1000))})

    def mark(self, name: str) -> str:
        return self._event("playedStream", name=name)

    def stop(self) -> None:
        return None

    def parse(self, message: str | bytes) -> Incoming:
        event = json.loads(message)
        self.received.append(event)
        if event["event"] == "playAudio":
            return Incoming("audio", audioop.ulaw2lin(base64.b64decode(event["media"]["payload"]), 2))
        if event["event"] == "checkpoint":
            return Incoming("mark", name=event["name"])
        return Incoming("clear" if event["event"] == "clearAudio" else "other")


@dataclass
class VonageWire:
    """The Vonage Voice API WebSocket: the NCCO headers in the first message, binary L16 audio."""

    headers: dict[str, Any]
    rate: int = 16000
    path: str = "/media/vonage"
    call_sid: str = field(default_factory=lambda: str(uuid.uuid4()))
    audio_sizes: set[int] = field(default_factory=set)
    actions: list[dict] = field(default_factory=list)

    def opening(self) -> list[str]:
        return [json.dumps({"event": "websocket:connected", "content-type": f"audio/l16;rate={self.rate}",
                            "uuid": self.call_sid, **self.headers})]

    def audio(self, pcm: bytes, timestamp_ms: int) -> bytes:
        return pcm

    def dtmf(self, digit: str) -> str:
        return json.dumps({"event": "websocket:dtmf", "digit": digit, "duration": 260})

    def mark(self, name: str) -> str:
        return json.dumps({"event": "websocket:notify", "payload": {"name": name}})

    def stop(self) -> None:
        return None

    def parse(self, message: str | bytes) -> Incoming:
        if isinstance(message, bytes):
            self.audio_sizes.add(len(message))
            return Incoming("audio", message)
        action = json.loads(message)
        self.actions.append(action)
        if action.get("action") == "notify":
            return Incoming("mark", name=action["payload"]["name"])
        return Incoming("clear" if action.get("action") == "clear" else "other")


@dataclass
class AsteriskWire:
    """chan_websocket as Asterisk's Dial(WebSocket/voicebot/c(ulaw)) opens it (plain-text control)."""

    rate: int = 8000
    path: str = "/media/asterisk"
    json_control: bool = False
    channel_variables: dict[str, str] = field(default_factory=dict)
    call_sid: str = field(default_factory=lambda: f"pbx1-{int(time.time())}.{uuid.uuid4().int % 1000}")
    audio_sizes: set[int] = field(default_factory=set)
    commands: list[str] = field(default_factory=list)

    def opening(self) -> list[str]:
        start = {"event": "MEDIA_START", "connection_id": str(uuid.uuid4()), "channel": "WebSocket/voicebot/0x7f3a",
                 "channel_id": self.call_sid, "format": "ulaw", "optimal_frame_size": 160, "ptime": 20}
        if self.json_control:
            return [json.dumps({**start, "channel_variables": self.channel_variables})]
        return [" ".join(["MEDIA_START"] + [f"{k}:{v}" for k, v in start.items() if k != "event"])]

    def audio(self, pcm: bytes, timestamp_ms: int) -> bytes:
        return audioop.lin2ulaw(pcm, 2)

    def dtmf(self, digit: str) -> str:
        if self.json_control:
            return json.dumps({"event": "DTMF_END", "channel_id": self.call_sid, "digit": digit})
        return f"DTMF_END digit:{digit}"

    def mark(self, name: str) -> str:
        if self.json_control:
            return json.dumps({"event": "MEDIA_MARK_PROCESSED", "channel_id": self.call_sid, "correlation_id": name})
        return f"MEDIA_MARK_PROCESSED {name}"

    def stop(self) -> None:
        return None  # Asterisk closes the websocket when the channel hangs up

    def parse(self, message: str | bytes) -> Incoming:
        if isinstance(message, bytes):
            self.audio_sizes.add(len(message))
            return Incoming("audio", audioop.ulaw2lin(message, 2))
        self.commands.append(message)
        if self.json_control:
            command = json.loads(message)
            name, correlation = command["command"], command.get("correlation_id", "")
        else:
            name, _, correlation = message.partition(" ")
        if name == "MARK_MEDIA":
            return Incoming("mark", name=correlation)
        return Incoming("clear" if name == "FLUSH_MEDIA" else "other")


@dataclass
class AudioSocketWire:
    """Asterisk's AudioSocket(uuid,host:port): TLV frames over TCP, 16-bit 8 kHz audio."""

    call_sid: str
    rate: int = 8000
    path: str = ""
    audio_sizes: set[int] = field(default_factory=set)
    hung_up_by_server: bool = False

    def opening(self) -> list[bytes]:
        return [frames.Frame(frames.UUID, uuid.UUID(self.call_sid).bytes).encode()]

    def audio(self, pcm: bytes, timestamp_ms: int) -> bytes:
        return frames.Frame(frames.AUDIO, pcm).encode()

    def dtmf(self, digit: str) -> bytes:
        return frames.Frame(frames.DTMF, digit.encode("ascii")).encode()

    def mark(self, name: str) -> None:
        return None  # AudioSocket has no playback marks

    def stop(self) -> bytes:
        return frames.Frame(frames.HANGUP).encode()

    def parse(self, message: str | bytes) -> Incoming:
        frame = frames.decode(message)
        if frame.kind == frames.AUDIO:
            self.audio_sizes.add(len(frame.payload))
            return Incoming("audio", frame.payload)
        self.hung_up_by_server |= frame.kind == frames.HANGUP
        return Incoming("other")


class AudioSocketClient:
    """A TCP connection with the few methods of a websockets client that LocalCarrierCall uses."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.close_code, self.close_reason = None, None

    async def __aenter__(self) -> AudioSocketClient:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def send(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, RuntimeError):
            raise websockets.ConnectionClosedOK(None, None) from None

    async def close(self) -> None:
        self._writer.close()

    def __aiter__(self) -> AudioSocketClient:
        return self

    async def __anext__(self) -> bytes:
        data = await frames.read_frame(self._reader)
        if data is None:
            raise StopAsyncIteration
        return data


class AudioSocketCall(LocalCarrierCall):
    """The local carrier's call loop over an AudioSocket connection instead of a WebSocket."""

    def __init__(self, host: str, port: int, *args, **kwargs):
        super().__init__(f"tcp://{host}:{port}", *args, **kwargs)
        self.host, self.port = host, port

    def connect(self) -> AudioSocketClient:
        return AudioSocketClient(self.host, self.port)

"""The carrier's side of each media-stream protocol: what a phone network sends and receives.

TwilioWire speaks Twilio Media Streams as Twilio does (connected, start with customParameters,
20 ms base64 mu-law media, dtmf, mark echoes, stop); PcmWire speaks the server's raw PCM
protocol (a JSON start, binary 16-bit frames).  Both turn what the server sends back into
three things a carrier cares about: audio to play, a `clear` (drop queued audio), a `mark`.
"""

from __future__ import annotations

import base64
import json
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

# G.711 as pipecat's serializers do it: stdlib until Python 3.13, then the audioop-lts package.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

FRAME_S = 0.02


@dataclass
class Incoming:
    kind: str                 # audio | clear | mark | other
    audio: bytes = b""        # 16-bit PCM at the wire's rate
    name: str = ""            # mark name


@dataclass
class TwilioWire:
    account: dict[str, Any]   # customParameters: account, stage, attempt, locale, token
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    stream_sid: str = field(default_factory=lambda: "MZ" + uuid.uuid4().hex)
    rate: int = 8000
    path: str = "/media/twilio"
    _seq: int = 0
    _chunk: int = 0

    def _event(self, event: str, **body: Any) -> str:
        self._seq += 1
        return json.dumps({"event": event, "sequenceNumber": str(self._seq), "streamSid": self.stream_sid, **body})

    def opening(self) -> list[str]:
        start = {"accountSid": "AC-local", "streamSid": self.stream_sid, "callSid": self.call_sid,
                 "tracks": ["inbound"], "customParameters": self.account,
                 "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}
        connected = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        return [connected, self._event("start", start=start)]

    def audio(self, pcm: bytes, timestamp_ms: int) -> str:
        self._chunk += 1
        payload = base64.b64encode(audioop.lin2ulaw(pcm, 2)).decode("ascii")
        return self._event("media", media={"track": "inbound", "chunk": str(self._chunk),
                                           "timestamp": str(timestamp_ms), "payload": payload})

    def dtmf(self, digit: str) -> str:
        return self._event("dtmf", dtmf={"track": "inbound_track", "digit": digit})

    def mark(self, name: str) -> str | None:
        return self._event("mark", mark={"name": name})

    def stop(self) -> str:
        return self._event("stop", stop={"accountSid": "AC-local", "callSid": self.call_sid})

    def parse(self, message: str | bytes) -> Incoming:
        if isinstance(message, bytes):
            return Incoming("other")
        event = json.loads(message)
        kind = event.get("event")
        if kind == "media":
            return Incoming("audio", audioop.ulaw2lin(base64.b64decode(event["media"]["payload"]), 2))
        if kind == "mark":
            return Incoming("mark", name=event.get("mark", {}).get("name", ""))
        return Incoming("clear" if kind == "clear" else "other")


@dataclass
class PcmWire:
    account: dict[str, Any]
    rate: int = 8000
    call_sid: str = field(default_factory=lambda: "PCM" + uuid.uuid4().hex)
    path: str = "/media/pcm"

    def opening(self) -> list[str]:
        return [json.dumps({"event": "start", "sample_rate": self.rate, "encoding": "pcm_s16le",
                            "call_id": self.call_sid, **self.account})]

    def audio(self, pcm: bytes, timestamp_ms: int) -> bytes:
        return pcm

    def dtmf(self, digit: str) -> str:
        return json.dumps({"event": "dtmf", "digit": digit})

    def mark(self, name: str) -> str | None:
        return None  # the PCM protocol has no playback marks

    def stop(self) -> str:
        return json.dumps({"event": "stop"})

    def parse(self, message: str | bytes) -> Incoming:
        if isinstance(message, bytes):
            return Incoming("audio", message)
        return Incoming("clear" if json.loads(message).get("event") == "clear" else "other")

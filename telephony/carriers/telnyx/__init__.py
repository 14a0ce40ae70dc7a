"""Telnyx: media streaming over WebSocket (pipecat's serializer, made strict)."""

from telephony.carriers.telnyx.carrier import TelnyxCarrier

CARRIER = TelnyxCarrier()

__all__ = ["CARRIER", "TelnyxCarrier"]

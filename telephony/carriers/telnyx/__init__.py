"""Telnyx: media streaming over WebSocket (pipecat's serializer, made strict), Call Control REST provider."""

from telephony.carriers.telnyx.carrier import TelnyxCarrier
from telephony.carriers.telnyx.rest import TelnyxRestProvider

CARRIER = TelnyxCarrier()

__all__ = ["CARRIER", "TelnyxCarrier", "TelnyxRestProvider"]

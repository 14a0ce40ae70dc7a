"""Vonage: Voice API WebSockets (pipecat's serializer, made strict), their signed JWT, the NCCO its
calls fetch from us, and the REST provider."""

from telephony.carriers.vonage.carrier import VonageCarrier
from telephony.carriers.vonage.rest import VonageRestProvider

CARRIER = VonageCarrier()

__all__ = ["CARRIER", "VonageCarrier", "VonageRestProvider"]

"""Vonage: Voice API WebSockets (pipecat's serializer, made strict) and their signed JWT."""

from telephony.carriers.vonage.carrier import VonageCarrier

CARRIER = VonageCarrier()

__all__ = ["CARRIER", "VonageCarrier"]

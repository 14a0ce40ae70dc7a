"""Plivo: audio streams over WebSocket (pipecat's serializer, made strict) and their signature."""

from telephony.carriers.plivo.carrier import PlivoCarrier
from telephony.carriers.plivo.signature import plivo_signature, signature_matches

CARRIER = PlivoCarrier()

__all__ = ["CARRIER", "PlivoCarrier", "plivo_signature", "signature_matches"]

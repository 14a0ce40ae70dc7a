"""Plivo: audio streams over WebSocket (pipecat's serializer, made strict), their signature, the
XML its calls fetch from us, and the REST provider."""

from telephony.carriers.plivo.carrier import PlivoCarrier
from telephony.carriers.plivo.rest import PlivoRestProvider
from telephony.carriers.plivo.signature import plivo_signature, signature_matches

CARRIER = PlivoCarrier()

__all__ = ["CARRIER", "PlivoCarrier", "PlivoRestProvider", "plivo_signature", "signature_matches"]

"""Twilio: Media Streams (serializer, start, signature), REST provider, TwiML documents."""

from telephony.carriers.twilio.carrier import TwilioCarrier
from telephony.carriers.twilio.rest import TwilioRestProvider
from telephony.carriers.twilio.signature import signature_matches, twilio_signature

CARRIER = TwilioCarrier()

__all__ = ["CARRIER", "TwilioCarrier", "TwilioRestProvider", "signature_matches", "twilio_signature"]

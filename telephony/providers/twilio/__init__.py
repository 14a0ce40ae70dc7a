"""Twilio: REST provider, TwiML documents, and the request signature Twilio adds."""

from telephony.providers.twilio.rest import TwilioRestProvider
from telephony.providers.twilio.signature import signature_matches, twilio_signature

__all__ = ["TwilioRestProvider", "signature_matches", "twilio_signature"]

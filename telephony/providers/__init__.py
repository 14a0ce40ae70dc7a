"""Phone carriers behind one protocol: place a call, transfer, hang up, send an SMS.

Each carrier's REST provider lives in its folder with the rest of the carrier
(`telephony.carriers.twilio.rest.TwilioRestProvider`), so using the protocol never loads one.
The local carrier, which plays the application's own scripted debtor, is an application module
(`voicebot/providers/local/`).
"""

from telephony.providers.base import PlacedCall, Provider, ProviderError

__all__ = ["PlacedCall", "Provider", "ProviderError"]

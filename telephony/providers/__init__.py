"""Phone carriers behind one protocol: place a call, transfer, hang up, send an SMS.

`TwilioRestProvider` drives Twilio's REST API; import it from its folder
(`telephony.providers.twilio`) so using the protocol never loads it.  The local carrier, which
plays the application's own scripted debtor, is an application module (`voicebot/providers/local/`).
"""

from telephony.providers.base import PlacedCall, Provider, ProviderError

__all__ = ["PlacedCall", "Provider", "ProviderError"]

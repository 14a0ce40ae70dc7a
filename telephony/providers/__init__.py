"""Phone carriers behind one protocol: place a call, transfer, hang up, send an SMS.

`LocalProvider` plays the carrier on this machine (development, tests, the demo);
`TwilioRestProvider` drives Twilio's REST API.  Import them from their folders
(`telephony.providers.local`, `telephony.providers.twilio`) so using one never loads the other.
"""

from telephony.providers.base import PlacedCall, Provider, ProviderError

__all__ = ["PlacedCall", "Provider", "ProviderError"]

"""The local carrier: calls played on this machine over the server's real WebSocket protocols."""

from telephony.providers.local.carrier import LocalCallResult, LocalCarrierCall
from telephony.providers.local.provider import LocalProvider

__all__ = ["LocalCallResult", "LocalCarrierCall", "LocalProvider"]

"""The local carrier: calls played on this machine over the server's real WebSocket protocols."""

from voicebot.providers.local.carrier import LocalCallResult, LocalCarrierCall
from voicebot.providers.local.provider import LocalProvider

__all__ = ["LocalCallResult", "LocalCarrierCall", "LocalProvider"]

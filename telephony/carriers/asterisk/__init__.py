"""Asterisk: chan_websocket (`/media/asterisk`) and AudioSocket (a TCP listener), as it speaks them."""

from telephony.carriers.asterisk.audiosocket.carrier import AudioSocketCarrier
from telephony.carriers.asterisk.websocket_carrier import AsteriskWebSocketCarrier

CARRIER = AsteriskWebSocketCarrier()
AUDIOSOCKET = AudioSocketCarrier()

__all__ = ["AUDIOSOCKET", "CARRIER", "AsteriskWebSocketCarrier", "AudioSocketCarrier"]

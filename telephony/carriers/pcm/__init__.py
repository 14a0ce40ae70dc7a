"""Raw 16-bit PCM over a WebSocket: a JSON start, binary audio (FreeSWITCH mod_audio_stream)."""

from telephony.carriers.pcm.carrier import PcmCarrier

CARRIER = PcmCarrier()

__all__ = ["CARRIER", "PcmCarrier"]

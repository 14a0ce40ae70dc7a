"""The carriers the media-stream server mounts, one line each: `/media/<name>` per carrier.

Adding a carrier is a folder `telephony/carriers/<name>/` whose `CARRIER` is a
`telephony.carriers.base.Carrier`, and one line here (docs/architecture.md, "Carriers").
AudioSocket is the one that is not a WebSocket: the server starts its TCP listener itself.
"""

from __future__ import annotations

from telephony.carriers.asterisk import AUDIOSOCKET, CARRIER as ASTERISK
from telephony.carriers.base import Carrier
from telephony.carriers.pcm import CARRIER as PCM
from telephony.carriers.plivo import CARRIER as PLIVO
from telephony.carriers.telnyx import CARRIER as TELNYX
from telephony.carriers.twilio import CARRIER as TWILIO
from telephony.carriers.vonage import CARRIER as VONAGE

CARRIERS: tuple[Carrier, ...] = (
    TWILIO,
    TELNYX,
    PLIVO,
    VONAGE,
    ASTERISK,      # chan_websocket
    AUDIOSOCKET,   # Asterisk AudioSocket: TCP on `audiosocket_port`, registered at /media/audiosocket/calls
    PCM,
)


def carrier_named(name: str) -> Carrier:
    for carrier in CARRIERS:
        if carrier.name == name:
            return carrier
    raise KeyError(f"no carrier {name!r}; there are {', '.join(c.name for c in CARRIERS)}")

"""The live bus: events on named channels and atomic claims, leases, counters and records.

In-process by default, Redis when REDIS_URL is set (`bus_from_env`).  See `base.py` for what
every implementation promises."""

from telephony.bus.base import Bus, BusError, BusUnavailable, Event, Subscription
from telephony.bus.factory import bus_from_env
from telephony.bus.live import CALLS_CHANNEL, CallFeed, call_channel
from telephony.bus.memory import InProcessBus
from telephony.bus.redis_bus import RedisBus

__all__ = ["Bus", "BusError", "BusUnavailable", "Event", "Subscription", "InProcessBus", "RedisBus",
           "bus_from_env", "CALLS_CHANNEL", "CallFeed", "call_channel"]

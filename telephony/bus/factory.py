"""Pick the bus from the settings: Redis when REDIS_URL is set, in-process otherwise.

One switch for the whole deployment, as in the design: nothing to configure on one machine,
one variable to scale out.  `VOICEBOT_BUS_PREFIX` namespaces keys and channels on a Redis
shared with other deployments (default `voicebot:`).

Call it once per process and pass the bus around: two in-process buses in one process do not
see each other.  Nothing connects here; `await bus.check()` at start-up fails fast (naming the
URL) when Redis is down.
"""

from __future__ import annotations

from collections.abc import Mapping

from telephony.bus.base import Bus
from telephony.bus.memory import InProcessBus
from telephony.bus.redis_bus import DEFAULT_PREFIX, RedisBus


def open_bus(url: str | None, prefix: str | None = None) -> Bus:
    """Redis at `url` (keys under `prefix`, default `voicebot:`), else the in-process bus."""
    url = (url or "").strip()
    if not url:
        return InProcessBus()
    return RedisBus(url, prefix=prefix or DEFAULT_PREFIX)


def bus_from_env(env: Mapping[str, str], *, prefix: str | None = None) -> Bus:
    """The bus `env`'s REDIS_URL and VOICEBOT_BUS_PREFIX name (the caller's mapping: this layer
    never reads the process's environment; the engine passes its settings to `open_bus`)."""
    return open_bus(env.get("REDIS_URL"), prefix or env.get("VOICEBOT_BUS_PREFIX"))

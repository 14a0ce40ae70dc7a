"""Which provider carries out a call's transfer, hang-up and SMS: its own carrier's.

A call id means something only to the carrier that issued it: a Telnyx call_control_id sent to
Twilio's API is a transfer that never happens.  So the server keeps one provider per carrier
name (`carrier_providers`), falling back to a default (the local provider, which records the
actions) for carriers with none, and says once at start which is which.

`providers_from_env` builds the REST providers whose variables are set, in each carrier's own
names (TELNYX_API_KEY...: `docs/operations.md`, "Carriers' REST providers"); a carrier is one
line in BUILDERS.  Twilio's keeps its `voicebot serve` options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from telephony.carriers.auth import http_url
from telephony.carriers.registry import CARRIERS
from telephony.providers.base import Provider


@dataclass(frozen=True)
class ServerAddress:
    """How carriers reach the server: `ws_base` (wss://host[:port]), and a stream token to
    present where the carrier cannot sign its stream (Telnyx)."""

    ws_base: str
    stream_token: str | None = None

    @property
    def http_base(self) -> str:
        return http_url(self.ws_base.rstrip("/"))

    def stream_url(self, carrier: str) -> str:
        return f"{self.ws_base.rstrip('/')}/media/{carrier}"


def carrier_providers(default: Provider, providers: Mapping[str, Provider]) -> dict[str, Provider]:
    """Every registered carrier's provider; an unknown carrier name is a mistake, said now."""
    names = [carrier.name for carrier in CARRIERS]
    unknown = sorted(set(providers) - set(names))
    if unknown:
        raise ValueError(f"providers for unknown carriers {', '.join(unknown)}; carriers: {', '.join(names)}")
    chosen = {name: providers.get(name, default) for name in names}
    own = [f"{name}: {type(p).__name__}" for name, p in chosen.items() if name in providers]
    rest = [name for name in names if name not in providers]
    logger.info("carrier providers: " + "; ".join(own + ([f"{', '.join(rest)}: {type(default).__name__} (default)"]
                                                         if rest else [])))
    return chosen


def _get(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name) or None


def _complete(carrier: str, env: Mapping[str, str], required: list[str]) -> bool:
    """True when all of `required` are set, False when none is; some of them: a mistake."""
    present = [name for name in required if _get(env, name)]
    if present and len(present) < len(required):
        missing = ", ".join(name for name in required if name not in present)
        raise ValueError(f"{carrier} provider: {', '.join(present)} set but {missing} missing")
    return bool(present)


def telnyx(env: Mapping[str, str], server: ServerAddress) -> Provider | None:
    if not _complete("Telnyx", env, ["TELNYX_API_KEY", "TELNYX_FROM_NUMBER"]):
        return None
    from telephony.carriers.telnyx.rest import TelnyxRestProvider

    if not server.stream_token:
        raise ValueError("Telnyx provider: Telnyx streams prove themselves with a stream token: give --token")
    return TelnyxRestProvider(env["TELNYX_API_KEY"], from_number=env["TELNYX_FROM_NUMBER"],
                              connection_id=_get(env, "TELNYX_CONNECTION_ID"),
                              messaging_profile_id=_get(env, "TELNYX_MESSAGING_PROFILE_ID"),
                              stream_url=server.stream_url("telnyx"), stream_token=server.stream_token)


def plivo(env: Mapping[str, str], server: ServerAddress) -> Provider | None:
    if not _complete("Plivo", env, ["PLIVO_AUTH_ID", "PLIVO_AUTH_TOKEN", "PLIVO_FROM_NUMBER"]):
        return None
    from telephony.carriers.plivo.rest import PlivoRestProvider

    return PlivoRestProvider(env["PLIVO_AUTH_ID"], env["PLIVO_AUTH_TOKEN"], from_number=env["PLIVO_FROM_NUMBER"],
                             server_url=server.http_base)


def vonage(env: Mapping[str, str], server: ServerAddress) -> Provider | None:
    if not _complete("Vonage", env, ["VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY", "VONAGE_FROM_NUMBER"]):
        return None
    from telephony.carriers.vonage.rest import VonageRestProvider

    key_path = Path(env["VONAGE_PRIVATE_KEY"])
    try:
        private_key = key_path.read_text()
    except OSError as exc:
        raise ValueError(f"VONAGE_PRIVATE_KEY: cannot read {key_path}: {exc.strerror}") from None
    return VonageRestProvider(env["VONAGE_APPLICATION_ID"], private_key, from_number=env["VONAGE_FROM_NUMBER"],
                              server_url=server.http_base, api_key=_get(env, "VONAGE_API_KEY"),
                              api_secret=_get(env, "VONAGE_API_SECRET"))


def asterisk(env: Mapping[str, str], server: ServerAddress) -> Provider | None:
    """ARI for both Asterisk carriers: a chan_websocket call's channel id, or an AudioSocket call's
    UUID when an ARI application made its channel with that id."""
    if not _complete("Asterisk ARI", env, ["ASTERISK_ARI_URL", "ASTERISK_ARI_USER", "ASTERISK_ARI_PASSWORD"]):
        return None
    from telephony.carriers.asterisk.ari import TRANSFER_CONTEXT, AsteriskAriProvider

    return AsteriskAriProvider(env["ASTERISK_ARI_URL"], env["ASTERISK_ARI_USER"], env["ASTERISK_ARI_PASSWORD"],
                               transfer_context=_get(env, "ASTERISK_ARI_TRANSFER_CONTEXT") or TRANSFER_CONTEXT)


BUILDERS: dict[str, Callable[[Mapping[str, str], ServerAddress], Provider | None]] = {
    "telnyx": telnyx,
    "plivo": plivo,
    "vonage": vonage,
    "asterisk": asterisk,
    "audiosocket": asterisk,
}


#: Carriers whose calls fetch a document from the server, which it serves only when the carrier's
#: signature on the request holds: their provider is of no use without that secret.
SIGNED_FETCHES = {"plivo": "the Plivo auth token", "vonage": "the Vonage signature secret"}


def check_signing_secrets(providers: Mapping[str, Provider], secrets: Mapping[str, object]) -> None:
    """ValueError, naming the secret, for a provider whose calls the server could not answer."""
    for name in providers:
        if name in SIGNED_FETCHES and not secrets.get(name):
            raise ValueError(f"the {name} provider's calls fetch their answer from this server, signed: "
                             f"give --carrier-secret {name}=<{SIGNED_FETCHES[name]}>")


def providers_from_env(env: Mapping[str, str], server: ServerAddress) -> dict[str, Provider]:
    """The REST providers whose variables are set (ValueError naming what is half set)."""
    built = {name: build(env, server) for name, build in BUILDERS.items()}
    return {name: provider for name, provider in built.items() if provider is not None}

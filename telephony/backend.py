"""Opens the campaigns' shared state, the campaign store with the SMS store and outbox beside it:
on Redis when a URL is given (many workers), else in memory, saved to a JSON file between runs
so opt-outs and progress are not forgotten.  It sits above both packages (the SMS rules build
on the campaign's clock and stores; the campaign never imports the SMS package)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from telephony.campaign.memory_store import InMemoryStore, load_state_file, save_state_file
from telephony.campaign.redis_client import connect
from telephony.campaign.redis_store import RedisStore
from telephony.campaign.store import CampaignStore
from telephony.sms.outbox import FileOutbox, RedisStreamOutbox, SmsSender
from telephony.sms.store import InMemorySmsStore, RedisSmsStore, SmsStore

DEFAULT_STATE_FILE = Path("var/campaign/state.json")
DEFAULT_OUTBOX_FILE = Path("var/sms/outbox.jsonl")


@dataclass
class CampaignBackend:
    store: CampaignStore
    sms_store: SmsStore
    outbox: SmsSender
    where: str
    save: Callable[[], None] = field(default=lambda: None)


def open_backend(redis_url: str | None, prefix: str = "voicebot", state_file: Path | None = DEFAULT_STATE_FILE,
             outbox_file: Path | None = None, sms_in_flight_s: float = 120.0) -> CampaignBackend:
    if redis_url:
        client = connect(redis_url)
        campaign_store = RedisStore(client, prefix)
        campaign_store.ping()  # StoreUnavailable naming the address, at once, not at the first dial
        outbox: SmsSender = (FileOutbox(outbox_file) if outbox_file
                             else RedisStreamOutbox(client, f"{prefix}:sms:outbox"))
        return CampaignBackend(campaign_store, RedisSmsStore(client, prefix, sms_in_flight_s), outbox,
                               where=f"redis {campaign_store.description} prefix {prefix}")
    store, sms_store = InMemoryStore(), InMemorySmsStore(sms_in_flight_s)
    if state_file is not None:
        data = load_state_file(state_file)
        store.load_json(data.get("campaign", {}))
        sms_store.load_json(data.get("sms", {}))

    def save() -> None:
        if state_file is not None:
            save_state_file(state_file, {"campaign": store.to_json(), "sms": sms_store.to_json()})

    where = f"memory (saved to {state_file})" if state_file else "memory"
    return CampaignBackend(store, sms_store, FileOutbox(outbox_file or DEFAULT_OUTBOX_FILE), where, save)

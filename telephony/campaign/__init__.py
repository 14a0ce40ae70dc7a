"""Outbound collection campaigns: who to call, when, with which script and voice, by which of
several workers sharing one campaign through Redis.  The dialer that runs the app's own
simulated call is voicebot/simulated_dialer.py; `voicebot campaign` is the CLI.

Public API:
    CampaignConfig, CampaignWorker, RunResult, CampaignListener
    Dialer, CallRequest, CallAnswer, PreparedDialer
    CampaignStore, StoreUnavailable, InMemoryStore, RedisStore, connect (open_backend: telephony.backend)
    AccountState, CallRecord, Lease
    Clock, SystemClock, ShiftedClock, ManualClock
    LocalWindow, contact_gate, after_call
"""

from telephony.campaign.clock import Clock, ManualClock, ShiftedClock, SystemClock, parse_instant
from telephony.campaign.config import CampaignConfig, parse_duration
from telephony.campaign.dialer import CallAnswer, CallRequest, Dialer, PreparedDialer
from telephony.campaign.memory_store import InMemoryStore
from telephony.campaign.redis_client import connect
from telephony.campaign.redis_store import RedisStore
from telephony.campaign.schedule import after_call, contact_gate
from telephony.campaign.state import AccountState, CallRecord, Lease
from telephony.campaign.store import CampaignStore, StoreUnavailable
from telephony.campaign.windows import LocalWindow
from telephony.campaign.worker import CampaignListener, CampaignWorker, RunResult

__all__ = [
    "AccountState", "CallAnswer", "CallRecord", "CallRequest", "CampaignConfig",
    "CampaignListener", "CampaignStore", "CampaignWorker", "Clock", "Dialer", "InMemoryStore", "Lease",
    "LocalWindow", "ManualClock", "PreparedDialer", "RedisStore", "RunResult", "ShiftedClock",
    "StoreUnavailable", "SystemClock", "after_call", "connect", "contact_gate",
    "parse_duration", "parse_instant",
]

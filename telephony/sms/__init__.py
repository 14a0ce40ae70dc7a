"""SMS triggers of the collection strategy (after a call without payment, 5 and 8 days
unpaid), their send windows and weekly cap, and outbox providers.

Public API:
    SmsTriggers, SmsConfig, AFTER_CALL, FIVE_DAYS, EIGHT_DAYS
    SmsStore, InMemorySmsStore, RedisSmsStore, SmsRemoval
    SmsSender, KeptOutbox, FileOutbox, RedisStreamOutbox, MemoryOutbox
    PendingSms, SmsMessage
"""

from telephony.sms.config import AFTER_CALL, EIGHT_DAYS, FIVE_DAYS, TRIGGERS, SmsConfig
from telephony.sms.models import PendingSms, SmsMessage
from telephony.sms.outbox import FileOutbox, KeptOutbox, MemoryOutbox, RedisStreamOutbox, SmsSender
from telephony.sms.store import InMemorySmsStore, RedisSmsStore, SmsRemoval, SmsStore
from telephony.sms.triggers import SmsTriggers

__all__ = [
    "AFTER_CALL", "EIGHT_DAYS", "FIVE_DAYS", "TRIGGERS", "FileOutbox", "InMemorySmsStore", "KeptOutbox",
    "MemoryOutbox", "PendingSms", "RedisSmsStore", "RedisStreamOutbox", "SmsConfig", "SmsMessage", "SmsRemoval",
    "SmsSender", "SmsStore", "SmsTriggers",
]

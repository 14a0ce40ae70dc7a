"""The call records store: every call and turn in a SQL database as it happens.

SQLite by default, any SQLAlchemy URL (PostgreSQL) to scale.  Writes go through one background
thread (`RecordStore`), so the audio loop never waits on the database; each turn is committed
on its own, so a crash mid-call loses nothing already spoken.
"""

from voicebot.records.attach import CallLink, attach_call, attach_session
from voicebot.records.store import RecordStore, StoreError

__all__ = ["RecordStore", "StoreError", "CallLink", "attach_call", "attach_session"]

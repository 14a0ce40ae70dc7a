"""The media-stream server's contact-rules gate: a call start the rules forbid is closed with
FORBIDDEN (4403) and its reason, and logged to the records dir's compliance audit file.
The checks and the audit log are telephony/compliance_gate.py's, shared with the campaigns."""

from __future__ import annotations

from pathlib import Path

from dialogue.accounts import Account
from telephony.compliance_gate import AUDIT_FILE, FORBIDDEN, AuditLog, CallForbidden, check_at, check_call_start
from voicebot.server.errors import StreamError
from voicebot.server.settings import ServerSettings


def refuse_forbidden_stream(account: Account, settings: ServerSettings, *, opted_out: bool = False) -> None:
    """The media-stream server's gate: a StreamError (4403) naming the rule, logged to the
    records dir's audit file. The server holds no attempt history (the campaign worker does
    and checks the caps); here the window, holidays, jurisdiction and time zone are checked,
    and the opt-out the caller found in the opt-out journal or store (opt_out_guard)."""
    try:
        check_call_start(account, check_at(account, settings.call_date), opted_out=opted_out,
                         audit=AuditLog(Path(settings.records_dir) / AUDIT_FILE), source="media_stream")
    except CallForbidden as exc:
        raise StreamError(FORBIDDEN, str(exc)) from None

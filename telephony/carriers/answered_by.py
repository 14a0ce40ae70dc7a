"""A carrier's answering-machine verdict, as Twilio's `AnsweredBy` names it, checked at the start.

The start parameters are read at the edge (`stream_start.call_options`), so the list of verdicts
a carrier may send lives here; what each one means for the call (`CARRIER_VERDICTS`) is the
engine's, in `voicebot.audio.amd.decision`.
"""

from __future__ import annotations

ANSWERED_BY = ("human", "machine_start", "machine_end_beep", "machine_end_silence",
               "machine_end_other", "fax", "unknown")


def parse_answered_by(value: object) -> str | None:
    """A carrier's AnsweredBy value, checked; ValueError names the accepted ones."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.strip().lower() not in ANSWERED_BY:
        raise ValueError(f"AnsweredBy {str(value)[:40]!r} is not one of {', '.join(ANSWERED_BY)}")
    return value.strip().lower()

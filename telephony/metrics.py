"""Prometheus metrics of the telephony layer: campaign dials, bus and campaign-Redis failures.

Why here and not in `voicebot/server/metrics.py`: these events happen in `telephony` (the
campaign worker, the live bus, the campaign stores' Redis client), which never imports
`voicebot`.  Defined once in this module and registered in prometheus-client's default
registry, they show in whatever process runs the code: the media-stream server's `/metrics`
(the bus, the opt-out check against the campaign Redis) and a campaign worker's own metrics
port (`voicebot campaign run --metrics-port`).  Each place that counts is one line.

Labels stay few and bounded: a dial's outcome is one of the dialogue's outcomes or one of the
dialer's statuses; a store is one of three names.  No account id or phone number is a label.
"""

from __future__ import annotations

from prometheus_client import Counter, disable_created_metrics

# No `*_created` series beside every counter and histogram: they double the page and no alarm
# reads them.  Process-wide, so here, in the module every process with metrics loads first.
disable_created_metrics()

CAMPAIGN_DIALS = Counter(
    "voicebot_campaign_dials",
    "Campaign dials that ended, by outcome: the call's outcome when answered (promise_to_pay, "
    "opted_out...), else the dialer's status (no_answer, busy, failed).",
    ["outcome"])

BUS_FAILURES = Counter(
    "voicebot_bus_failures",
    "Live-bus operations that failed: 'unavailable' (Redis unreachable or not Redis) or "
    "'refused' (Redis answered with an error).",
    ["reason"])

REDIS_STORE_FAILURES = Counter(
    "voicebot_redis_store_failures",
    "Operations of the campaign's Redis stores that failed because Redis was unreachable or "
    "stalled (StoreUnavailable), by store: campaign store, SMS store, SMS outbox.",
    ["store"])


def dial_ended(status: str, outcome: str | None) -> None:
    """Count one finished dial: its outcome when answered, else its status."""
    CAMPAIGN_DIALS.labels(outcome=outcome or status).inc()

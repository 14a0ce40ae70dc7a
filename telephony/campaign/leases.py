"""Keeps a worker's leases alive while its calls run.

A lease expires by itself so that a worker that dies frees its accounts; a live worker must
therefore renew it.  The renewal runs on a thread rather than the event loop, because a
simulated call can keep the loop busy (speech models) for longer than a short lease lasts.
"""

from __future__ import annotations

import threading

from telephony.campaign.state import Lease
from telephony.campaign.store import CampaignStore


class LeaseKeeper:
    def __init__(self, store: CampaignStore, ttl_s: float, every_s: float | None = None):
        self.store, self.ttl_s = store, ttl_s
        self.every_s = every_s if every_s is not None else max(0.05, min(ttl_s / 3, 10.0))
        self._held: dict[str, Lease] = {}
        self.lost: list[Lease] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, lease: Lease) -> None:
        with self._lock:
            self._held[lease.value] = lease

    def remove(self, lease: Lease) -> None:
        with self._lock:
            self._held.pop(lease.value, None)

    def renew_all(self) -> None:
        with self._lock:
            held = list(self._held.values())
        for lease in held:
            if not self.store.renew(lease, self.ttl_s):
                self.remove(lease)
                self.lost.append(lease)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.renew_all()
            except Exception:  # noqa: BLE001 - a Redis hiccup must not kill the keeper; next round retries
                pass

    def __enter__(self) -> "LeaseKeeper":
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="lease-keeper", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

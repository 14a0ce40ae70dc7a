"""Whether a long run's memory is flat: the soak's verdict from the server's sampled RSS.

Why not the maximum alone: a server's RSS climbs while its first calls load models and fill
caches, then should stay level.  A leak shows as growth after that warm-up, so the warm figure
is taken once the run has settled (the median over its second sixth) and compared with the
median over its last sixth; medians, because one burst of concurrent synthesis lifts a single
sample.  A least-squares slope over everything after the warm-up says how fast it grows.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def rss_trend(rss_mb: list[float], every_s: float) -> dict[str, Any]:
    """RSS warm vs end (MB), growth in %, slope in MB per 10 minutes, one median per minute."""
    if len(rss_mb) < 12:
        return {"warm_mb": None, "end_mb": None, "growth_percent": None,
                "slope_mb_per_10min": None, "per_minute_mb": []}
    values = np.asarray(rss_mb, dtype=float)
    sixth = len(values) // 6
    warm = float(np.median(values[sixth:2 * sixth]))
    end = float(np.median(values[-sixth:]))
    after = values[sixth:]
    minutes = np.arange(len(after)) * every_s / 60.0
    slope = float(np.polyfit(minutes, after, 1)[0]) * 10 if len(after) > 1 else 0.0
    per_minute = max(1, round(60 / every_s))
    return {"warm_mb": round(warm, 1), "end_mb": round(end, 1),
            "growth_percent": round(100 * (end - warm) / warm, 2) if warm else None,
            "slope_mb_per_10min": round(slope, 2),
            "per_minute_mb": [round(float(np.median(values[i:i + per_minute])), 1)
                              for i in range(0, len(values), per_minute)]}

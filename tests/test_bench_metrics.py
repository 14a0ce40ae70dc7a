"""The benchmark's full-load figures: only calls placed and ended while every slot was live
count, so a level's headline cannot be flattered by its ramp-up and tail (pure arithmetic on
the carriers' runs and the server's records; the end-to-end run is test_bench_smoke.py)."""

from __future__ import annotations

from voicebot.bench.metrics import CallRun, WireGaps, full_load
from voicebot.bench.scenarios import scenario_for
from voicebot.providers.local.carrier import LocalCallResult


def _run(index: int, started: float, ended: float, late: int) -> CallRun:
    run = CallRun(index, scenario_for(index), LocalCallResult(f"CA{index}", "EN-EARLY-1", "twilio"),
                  WireGaps(frames=100, late=late), started)
    run.ended_s = ended
    return run


def _record(*processing_ms: float) -> dict:
    return {"turns": [{"timings": {"processing_ms": ms}} for ms in processing_ms] + [{"timings": {}}]}


def test_full_load_counts_only_calls_inside_the_window_where_every_slot_was_live():
    runs = [_run(0, 0.0, 25.0, late=7),    # began during the ramp-up
            _run(1, 20.0, 44.0, late=0),   # inside
            _run(2, 26.0, 50.0, late=2),   # inside
            _run(3, 45.0, 70.0, late=9)]   # ran past the end of the duration
    records = {"CA0": _record(900.0), "CA1": _record(100.0, 120.0), "CA2": _record(140.0),
               "CA3": _record(5000.0)}
    active = [1] * 20 + [4] * 40 + [2] * 20
    full = full_load(runs, records, (20.0, 60.0), active)
    assert full["calls"] == 2 and full["frames"] == 200 and full["late_frames"] == 2
    assert full["processing_ms"]["n"] == 3 and full["processing_ms"]["max"] == 140.0
    assert full["concurrency_mean"] == 4.0


def test_full_load_is_empty_when_no_call_fits_the_window():
    full = full_load([_run(0, 0.0, 25.0, late=0)], {"CA0": _record(100.0)}, (5.0, 10.0), [1] * 30)
    assert full["calls"] == 0 and full["processing_ms"]["n"] == 0 and full["processing_ms"]["p95"] is None


def test_rss_trend_tells_a_leak_from_a_warm_up_and_a_noisy_plateau():
    """The soak's verdict: growth is measured after the warm-up, so a server that climbs while
    it loads and then stays level is flat, and one that keeps climbing is not."""
    from voicebot.bench.memory_trend import rss_trend

    every_s = 0.5
    warm_up = [200 + i for i in range(300)]  # the first 2.5 minutes load models
    plateau = [500 + (7 if i % 40 == 0 else 0) for i in range(3300)]  # bursts lift single samples
    flat = rss_trend(warm_up + plateau, every_s)
    assert abs(flat["growth_percent"]) < 1
    assert abs(flat["slope_mb_per_10min"]) < 1
    assert len(flat["per_minute_mb"]) == 30

    leaking = rss_trend(warm_up + [500 + 0.02 * i for i in range(3300)], every_s)
    assert leaking["growth_percent"] > 5
    assert leaking["slope_mb_per_10min"] > 20
    assert rss_trend([100.0] * 5, every_s)["growth_percent"] is None

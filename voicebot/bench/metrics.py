"""What one benchmark level measured, from three vantage points:

- the carrier (wire): turn latency as the debtor hears it, and underruns: bot audio arriving
  after the carrier's playback ran dry mid-speech;
- the server's call records: each call's outcome (correctness) and per-turn timings written by
  `voicebot.recording.call_record` (`processing_ms`: VAD end-of-turn to first bot audio out;
  `asr_ms`: end-of-turn to transcript);
- the server's stats log (`voicebot.services.stats_log`): per-utterance ASR and per-piece TTS
  times, hence real-time factors under load; plus sampled CPU and RSS of the server processes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicebot.bench.memory_trend import rss_trend
from voicebot.bench.server import SAMPLE_EVERY_S

if TYPE_CHECKING:
    from voicebot.bench.scenarios import Scenario
    from voicebot.providers.local.carrier import LocalCallResult

LATE_TOLERANCE_S = 0.02  # playback may run dry this long (one frame) before it is audible
PAUSE_S = 1.5            # a longer silence is the bot waiting for the debtor, not an underrun
RECORD_WAIT_S = 30.0     # the server writes a call's summary just after its socket closes


@dataclass
class WireGaps:
    """Per call: bot audio messages, and those that came after playback had run dry."""

    frames: int = 0
    late: int = 0
    dry_ms: list[float] = field(default_factory=list)
    #: For each late message, how much bot audio had played since the bot started talking:
    #: near 0, the reply's first messages were sent too slowly; later, the sender or the
    #: synthesis of a later piece fell behind mid-speech.
    into_speech_ms: list[float] = field(default_factory=list)
    _talk_start: float = 0.0

    def on_audio(self, now_s: float, cursor_s: float, _length_s: float) -> None:
        self.frames += 1
        dry = now_s - cursor_s
        if cursor_s <= 0 or dry >= PAUSE_S:
            self._talk_start = now_s
        elif dry > LATE_TOLERANCE_S:
            self.late += 1
            self.dry_ms.append(dry * 1000)
            self.into_speech_ms.append((cursor_s - self._talk_start) * 1000)


@dataclass
class CallRun:
    """One call a carrier placed (carriers.py), as the figures read it."""

    index: int
    scenario: Scenario
    result: LocalCallResult
    gaps: WireGaps
    started_s: float            # on the run's clock
    ended_s: float = 0.0


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def spread(values: list[float]) -> dict[str, float | None]:
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99),
            "max": max(values) if values else None}


def read_records(records: Path, call_ids: set[str], wait_s: float = RECORD_WAIT_S) -> dict[str, dict]:
    """Call summaries keyed by the carrier's call id (Twilio callSid), waiting for late writes."""
    found: dict[str, dict] = {}
    deadline = time.monotonic() + wait_s
    while True:
        for path in records.rglob("*.json"):  # with several workers, one folder each
            try:
                summary = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, OSError):
                continue  # being written right now
            carrier_id = summary.get("carrier_call_id")
            if carrier_id in call_ids:
                found[carrier_id] = summary
        if set(found) >= call_ids or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def read_stats(path: Path | None, since: float = 0.0) -> tuple[list[float], list[float], dict[str, Any]]:
    """(ASR RTFs per utterance, TTS RTFs per synthesised piece, seconds of speech synthesised
    and replayed from the prompt cache, speculative ASR decodes used and wasted, Smart Turn
    verdicts) from the server's stats log, counting only events after `since` (epoch s): the
    warm-up's inferences are not calls'."""
    asr, tts = [], []
    speech = {"synthesised_s": 0.0, "fixed_synthesised_s": 0.0, "cached_s": 0.0,
              "asr_speculations_used": 0, "asr_speculations_wasted": 0,
              "turn_verdicts": 0, "turn_ended": 0, "turn_cpu_s": 0.0, "turn_processing_s": []}
    if path is None or not path.exists():
        return asr, tts, speech
    for line in path.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["t"] < since:
            continue
        if event["kind"] == "asr" and event["audio_s"] > 0:
            asr.append(event["processing_s"] / event["audio_s"])
        elif event["kind"] == "tts" and event["audio_s"] > 0:
            tts.append(event["synth_s"] / event["audio_s"])
            speech["synthesised_s"] += event["audio_s"]
            if event.get("fixed"):  # script text rendered for the cache (a miss)
                speech["fixed_synthesised_s"] += event["audio_s"]
        elif event["kind"] == "tts_cached":
            speech["cached_s"] += event["audio_s"]
        elif event["kind"] == "asr_speculation":
            speech["asr_speculations_used" if event["used"] else "asr_speculations_wasted"] += 1
        elif event["kind"] == "turn":  # a Smart Turn verdict at a pause (voicebot/audio/vad/turn_end.py)
            speech["turn_verdicts"] += 1
            speech["turn_ended"] += bool(event["ended"])
            speech["turn_cpu_s"] += event["cpu_s"]
            speech["turn_processing_s"].append(event["processing_s"] * 1000)
    return asr, tts, speech


def call_failure(run: CallRun, summary: dict | None) -> str | None:
    """Why a call counts as failed, or None when it reached its scripted outcome cleanly."""
    result = run.result
    if result.status == "failed" or result.error:
        return f"carrier: {result.error or result.status}"
    if summary is None:
        return f"no call record (closed {result.close_code} {result.close_reason or ''})".strip()
    if summary.get("outcome") != run.scenario.expected_outcome:
        return f"outcome {summary.get('outcome')} (expected {run.scenario.expected_outcome})"
    return None


def processing_of(summary: dict | None) -> list[float]:
    """The server's end-of-turn to first-audio times of a call's turns."""
    return [t["timings"]["processing_ms"] for t in (summary or {}).get("turns", [])
            if "processing_ms" in (t.get("timings") or {})]


def full_load(runs: list[CallRun], records: dict[str, dict], window: tuple[float, float],
              active: list[int]) -> dict[str, Any]:
    """Figures of the calls placed and ended while every slot was live (`window`: from the
    last slot's first dial to the end of the duration).  A level's overall figures mix in the
    ramp-up and the tail, when fewer calls run; these are the level's real load."""
    start, end = window
    inside = [run for run in runs if run.started_s >= start and run.ended_s <= end]
    processing = [ms for run in inside for ms in processing_of(records.get(run.result.call_id))]
    live = active[int(start):int(end)]  # sampled once a second from the level's start
    return {"from_s": start, "to_s": end, "calls": len(inside),
            "concurrency_mean": float(np.mean(live)) if live else None,
            "processing_ms": spread(processing),
            "frames": sum(run.gaps.frames for run in inside),
            "late_frames": sum(run.gaps.late for run in inside)}


def summarise_level(calls: int, runs: list[CallRun], records: dict[str, dict], *, wall_s: float,
                    active: list[int], cpu: list[float], rss: list[float], cpu_seconds: float,
                    lag_ms: list[float],
                    stats_log: Path | None, stats_since: float,
                    load_before: tuple[float, ...],
                    full_window: tuple[float, float] | None = None) -> dict[str, Any]:
    latency, processing, asr_ms, dry, into = [], [], [], [], []
    frames = late = 0
    failures, per_call = [], []
    for run in runs:
        summary = records.get(run.result.call_id)
        reason = call_failure(run, summary)
        if reason:
            failures.append({"call": run.result.call_id, "scenario": run.scenario.name, "why": reason})
        per_call.append({"call": run.result.call_id, "scenario": run.scenario.name,
                         "started_s": round(run.started_s, 2), "ended_s": round(run.ended_s, 2),
                         "outcome": (summary or {}).get("outcome"), "failed": reason,
                         "turn_latency_ms": [round(v) for v in run.result.latencies_ms],
                         "late_frames": run.gaps.late})
        latency += run.result.latencies_ms
        frames, late, dry = frames + run.gaps.frames, late + run.gaps.late, dry + run.gaps.dry_ms
        into += run.gaps.into_speech_ms
        processing += processing_of(summary)
        asr_ms += [t["timings"]["asr_ms"] for t in (summary or {}).get("turns", [])
                   if "asr_ms" in (t.get("timings") or {})]
    asr_rtf, tts_rtf, speech = read_stats(stats_log, stats_since)
    spoken = speech["synthesised_s"] + speech["cached_s"]
    call_minutes = sum(max(0.0, run.ended_s - run.started_s) for run in runs) / 60
    return {
        "calls": calls, "calls_placed": len(runs), "calls_completed": len(runs) - len(failures),
        "calls_failed": len(failures), "failures": failures, "wall_s": wall_s,
        "concurrency": {"mean": float(np.mean(active)) if active else 0.0, "max": max(active, default=0)},
        "turn_latency_ms": spread(latency), "processing_ms": spread(processing), "asr_ms": spread(asr_ms),
        "underruns": {"frames": frames, "late_frames": late, "dry_ms": spread(dry),
                      "late_into_speech_ms": spread(into),
                      "late_in_first_300ms": sum(1 for ms in into if ms < 300)},
        "full_load": full_load(runs, records, full_window, active) if full_window else None,
        "asr_rtf": spread(asr_rtf), "tts_rtf": spread(tts_rtf),
        "tts_speech_s": {"synthesised_s": speech["synthesised_s"], "cached_s": speech["cached_s"],
                         "fixed_synthesised_s": speech["fixed_synthesised_s"],
                         "cached_share": speech["cached_s"] / spoken if spoken else None},
        "asr_speculations": {"used": speech["asr_speculations_used"],
                             "wasted": speech["asr_speculations_wasted"]},
        "turn_model": {"verdicts": speech["turn_verdicts"], "ended_turns": speech["turn_ended"],
                       "cpu_s": speech["turn_cpu_s"], "inference_ms": spread(speech["turn_processing_s"])},
        "server_cpu_percent": {"mean": float(np.mean(cpu)) if cpu else None, "max": max(cpu, default=None)},
        "server_rss_mb": {"max": max(rss, default=None), **rss_trend(rss, SAMPLE_EVERY_S)},
        # Work per call, whatever else the machine runs: CPU-s the server used per minute of call.
        "server_cpu_s_per_call_minute": cpu_seconds / call_minutes if call_minutes else None,
        "carrier_loop_lag_ms": spread(lag_ms),
        "load_average_before": list(load_before),
        "per_call": per_call,
    }

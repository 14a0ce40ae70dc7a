"""The benchmark's outputs: a rich table (one column per level), a JSON file, and a PNG of
latency against concurrency when several levels ran."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _x(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _trio(d: dict) -> str:
    return f"{_ms(d['p50'])} / {_ms(d['p95'])} / {_ms(d['p99'])}"


def _full(level: dict, show) -> str:
    """A figure of the calls run while every slot was live (`metrics.full_load`), if any."""
    full = level.get("full_load")
    return "-" if not full or not full["calls"] else show(full)


ROWS = (
    ("calls placed / failed", lambda lv: f"{lv['calls_placed']} / {lv['calls_failed']}"),
    ("concurrency mean / max", lambda lv: f"{lv['concurrency']['mean']:.1f} / {lv['concurrency']['max']}"),
    ("turn latency p50/p95/p99 ms", lambda lv: _trio(lv["turn_latency_ms"])),
    ("processing p50/p95/p99 ms", lambda lv: _trio(lv["processing_ms"])),
    ("end-of-turn to transcript p50/p95 ms",
     lambda lv: f"{_ms(lv['asr_ms']['p50'])} / {_ms(lv['asr_ms']['p95'])}"),
    ("late bot frames / frames", lambda lv: f"{lv['underruns']['late_frames']} / {lv['underruns']['frames']}"),
    ("all slots live: calls / concurrency mean", lambda lv: _full(lv, lambda f: "{} / {}".format(
        f["calls"], "-" if f["concurrency_mean"] is None else f"{f['concurrency_mean']:.1f}"))),
    ("all slots live: processing p50/p95/p99 ms", lambda lv: _full(lv, lambda f: _trio(f["processing_ms"]))),
    ("all slots live: late bot frames / frames",
     lambda lv: _full(lv, lambda f: f"{f['late_frames']} / {f['frames']}")),
    ("longest dry gap ms", lambda lv: _ms(lv["underruns"]["dry_ms"]["max"])),
    ("ASR RTF p50 / p95", lambda lv: f"{_x(lv['asr_rtf']['p50'])} / {_x(lv['asr_rtf']['p95'])}"),
    ("ASR speculative decodes used / wasted",
     lambda lv: "{used} / {wasted}".format(**lv.get("asr_speculations", {"used": 0, "wasted": 0}))),
    ("Smart Turn verdicts / turns ended / inference p95 ms", lambda lv: "-" if not lv.get("turn_model", {}).get(
        "verdicts") else "{} / {} / {}".format(lv["turn_model"]["verdicts"], lv["turn_model"]["ended_turns"],
                                               _ms(lv["turn_model"]["inference_ms"]["p95"]))),
    ("TTS RTF p50 / p95", lambda lv: f"{_x(lv['tts_rtf']['p50'])} / {_x(lv['tts_rtf']['p95'])}"),
    ("TTS speech from the prompt cache", lambda lv: "-" if lv["tts_speech_s"]["cached_share"] is None
     else f"{100 * lv['tts_speech_s']['cached_share']:.0f} %"),
    ("TTS s synthesised: script / account text", lambda lv: "{:.0f} / {:.0f}".format(
        lv["tts_speech_s"].get("fixed_synthesised_s", 0.0),
        lv["tts_speech_s"]["synthesised_s"] - lv["tts_speech_s"].get("fixed_synthesised_s", 0.0))),
    ("server CPU % mean / max", lambda lv: f"{_ms(lv['server_cpu_percent']['mean'])} / "
                                           f"{_ms(lv['server_cpu_percent']['max'])}"),
    ("server CPU-s per call-minute", lambda lv: _x(lv.get("server_cpu_s_per_call_minute"), 2)),
    ("server RSS max MB", lambda lv: _ms(lv["server_rss_mb"]["max"])),
    ("server RSS warm -> end MB (growth)", lambda lv: "-" if lv["server_rss_mb"].get("warm_mb") is None
     else f"{lv['server_rss_mb']['warm_mb']:.0f} -> {lv['server_rss_mb']['end_mb']:.0f} "
          f"({lv['server_rss_mb']['growth_percent']:+.1f} %)"),
    ("carrier loop lag p99 ms", lambda lv: _ms(lv["carrier_loop_lag_ms"]["p99"])),
    ("carriers' CPU % (bench process)", lambda lv: _ms(lv.get("carrier_cpu_percent"))),
    ("load average before", lambda lv: " ".join(f"{v:.2f}" for v in lv["load_average_before"])),
)


def table(levels: list[dict[str, Any]], title: str = "voicebot bench") -> Table:
    out = Table(title=title)
    out.add_column("figure")
    for level in levels:
        out.add_column(f"{level['calls']} calls", justify="right")
    for name, cell in ROWS:
        out.add_row(name, *(cell(level) for level in levels))
    return out


def print_table(levels: list[dict[str, Any]], console: Console | None = None) -> None:
    (console or Console()).print(table(levels))
    for level in levels:
        for failure in level["failures"]:
            (console or Console()).print(f"[red]failed[/] ({level['calls']} calls) {failure['scenario']} "
                                         f"{failure['call']}: {failure['why']}")


def write_json(path: Path, levels: list[dict[str, Any]], command: list[str]) -> Path:
    document = {
        "command": command, "finished": datetime.now(timezone.utc).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "levels": levels,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def write_plot(path: Path, levels: list[dict[str, Any]], title: str = "") -> Path:
    """Turn latency and processing (p50, p95) against concurrent calls, with failed calls noted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [level["calls"] for level in levels]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    series = (("turn_latency_ms", "turn latency", "tab:blue"), ("processing_ms", "processing", "tab:orange"))
    for key, label, color in series:
        for q, style in (("p50", "-"), ("p95", "--")):
            ys = [level[key][q] if level[key][q] is not None else float("nan") for level in levels]
            ax.plot(xs, ys, style, marker="o", color=color, label=f"{label} {q}")
    full = [(level.get("full_load") or {}).get("processing_ms") or {} for level in levels]
    if any(f.get("p95") is not None for f in full):  # the level's real load, without ramp and tail
        ax.plot(xs, [f.get("p95") or float("nan") for f in full], ":", marker="s", color="tab:red",
                label="processing p95, all slots live")
    ax.axhline(300, color="grey", linewidth=0.8, linestyle=":", label="300 ms processing target")
    ax.set_yscale("log")  # from ~200 ms when idle to tens of seconds past the knee
    for level in levels:
        top = max(level["turn_latency_ms"]["p95"] or 0, level["processing_ms"]["p95"] or 0) or 300
        ax.annotate(f"{level['calls_failed']}/{level['calls_placed']} failed", (level["calls"], top),
                    textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8,
                    color="red" if level["calls_failed"] else "green")
    ax.set_xlabel("concurrent calls")
    ax.set_ylabel("ms (log scale)")
    ax.set_title(title or "voicebot bench: latency against concurrency")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path

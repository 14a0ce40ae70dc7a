"""Answering-machine detection on the labelled set: accuracy, confusion, decision time.

    .venv/bin/python benchmarks/amd.py [--set var/amd_set] [--json var/bench/amd.json]

Runs the `dev` set (the settings were tuned on it) and the `heldout` set (never used to tune).

Each clip is fed to the detector 20 ms at a time, as the live processor does (t = 0 is the
answer).  Decision time is when the verdict was reached; for machines the "message at" time is
when the bot would start its message (after the beep, or once the greeting ended), and a
message started before the beep ended is counted as clipped.  Nothing is asserted: this measures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from amd_set import RATE, Clip, load_or_build  # noqa: E402
from voicebot.audio.amd import AmdSettings, detect  # noqa: E402
from voicebot.cli.logging_setup import quiet_logs  # noqa: E402

LABELS = ("human", "machine")
VERDICTS = ("human", "machine", "unknown")


def evaluate(clips: list[Clip], settings: AmdSettings | None = None) -> dict:
    rows, started = [], time.perf_counter()
    for clip in clips:
        d = detect(clip.audio, RATE, settings)
        clipped = (clip.beep_end_s is not None and d.ready_at_s is not None
                   and d.ready_at_s < clip.beep_end_s - 0.03)
        rows.append({"name": clip.name, "label": clip.label, "verdict": d.verdict, "reason": d.reason,
                     "decided_s": d.decided_at_s, "message_at_s": d.ready_at_s, "clipped": clipped,
                     "text": clip.text, "voice": clip.voice})
    cpu_s = time.perf_counter() - started
    confusion = {lab: {v: sum(r["label"] == lab and r["verdict"] == v for r in rows) for v in VERDICTS}
                 for lab in LABELS}
    correct = sum(r["label"] == r["verdict"] for r in rows)
    times = [r["decided_s"] for r in rows if r["verdict"] != "unknown"]
    audio_s = sum(len(c.audio) for c in clips) / RATE
    return {
        "clips": len(rows), "accuracy": correct / len(rows) if rows else 0.0,
        # An "unknown" is handled like a person (the bot greets): right for people, wrong for machines.
        "action_accuracy": sum((r["verdict"] == "machine") == (r["label"] == "machine") for r in rows) / max(1, len(rows)),
        "confusion": confusion,
        "decision_s": {"p50": float(np.percentile(times, 50)) if times else None,
                       "p95": float(np.percentile(times, 95)) if times else None,
                       "max": max(times) if times else None},
        "within_3s": sum(t <= 3.0 for t in times) / max(1, len(rows)),
        "messages_clipped": sum(r["clipped"] for r in rows),
        "cpu_ms_per_audio_s": 1000 * cpu_s / audio_s if audio_s else None,
        "rows": rows,
    }


def show(report: dict, console: Console) -> None:
    table = Table(title="AMD confusion (rows: truth)")
    table.add_column("truth")
    for v in VERDICTS:
        table.add_column(v, justify="right")
    for lab in LABELS:
        table.add_row(lab, *(str(report["confusion"][lab][v]) for v in VERDICTS))
    console.print(table)
    for r in report["rows"]:
        if r["label"] != r["verdict"] or r["clipped"]:
            console.print(f"  [red]miss[/] {r['name']} {r['label']} -> {r['verdict']} ({r['reason']}, "
                          f"{r['decided_s']:.2f} s) {r['text'][:40]!r}")
    d = report["decision_s"]
    console.print(f"clips {report['clips']}  accuracy {report['accuracy']:.3f}  "
                  f"(unknown as human: {report['action_accuracy']:.3f})  decided within 3 s: "
                  f"{report['within_3s']:.3f}")
    console.print(f"decision time after answer p50 {d['p50']:.2f} s  p95 {d['p95']:.2f} s  max {d['max']:.2f} s  "
                  f"messages started before the beep ended: {report['messages_clipped']}  "
                  f"cost {report['cpu_ms_per_audio_s']:.2f} ms CPU per audio second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=Path("var/amd_set"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    console = Console(highlight=False)
    reports = {}
    for name in ("dev", "heldout"):
        console.rule(f"{name} set")
        reports[name] = evaluate(load_or_build(args.set, name))
        show(reports[name], console)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=1))


if __name__ == "__main__":
    quiet_logs()  # warnings only, unless LOGURU_LEVEL
    main()

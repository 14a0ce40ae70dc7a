"""Voice-loop benchmark: turn latency over simulated calls, ASR and TTS real-time factors.

    .venv/bin/python benchmarks/voice_loop.py [--calls 3] [--speed 1] [--json var/bench/voice_loop.json]

Calls run one at a time in real time by default (speed 1), as a single live call would; the
figures are printed as a table and written as JSON.  Nothing is asserted: this measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import date
from pathlib import Path


import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from dialogue.accounts import load_account  # noqa: E402
from voicebot.pipeline.parts import render_speech  # noqa: E402
from voicebot.services.tts import create_tts_service  # noqa: E402
from voicebot.services.whisper import load_shared_whisper, transcribe_short  # noqa: E402
from voicebot.simulate import Simulation, parse_debtor  # noqa: E402
from voicebot.cli.logging_setup import quiet_logs  # noqa: E402

ACCOUNTS = Path(__file__).resolve().parents[1] / "scripts" / "accounts" / "sample_accounts.json"
CALLS = [
    ("EN-EARLY-1", "yes this is John|how much do I owe|I can pay it on Friday"),
    ("EN-MID-1", "yes this is Maria|I am not paying that|no I will not pay"),
    ("EN-LATE-1", "yes this is David|can I pay in installments|yes please"),
]
LINES = ["yes this is John", "how much do I owe", "I can pay it on Friday", "stop calling me",
         "I lost my job last month", "can I talk to a real person"]
PROMPTS = ["Hello, this is Alex, a virtual assistant calling from Northwind Account Services. "
           "This call is recorded. May I speak with John Carter?",
           "Thank you. I've noted that you will pay on Friday, November 27."]


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


async def tts_figures(sample_rate: int) -> dict:
    out = {}
    for voice in ("en-joe", "en-kate"):
        tts = create_tts_service(voice, sample_rate=sample_rate)
        await tts.render("warm up", sample_rate)
        rtfs = []
        for text in PROMPTS:
            started = time.perf_counter()
            pcm = await tts.render(text, sample_rate)
            rtfs.append((time.perf_counter() - started) / (len(pcm) / 2 / sample_rate))
        out[voice] = {"rtf": statistics.mean(rtfs)}
    return out


async def asr_figures(sample_rate: int) -> dict:
    shared = load_shared_whisper()
    rtfs, cpus = [], []
    for text in LINES:
        pcm = await render_speech("en-kate", text, sample_rate)
        audio = pcm.astype(np.float32) / 32768.0
        if sample_rate != 16000:
            audio = np.interp(np.arange(0, len(audio), sample_rate / 16000), np.arange(len(audio)), audio)
            audio = audio.astype(np.float32)
        cpu, wall = time.process_time(), time.perf_counter()
        transcribe_short(shared, audio)
        wall = time.perf_counter() - wall
        cpus.append(time.process_time() - cpu)
        rtfs.append(wall / (len(audio) / 16000))
    return {"whisper_short_window": {"rtf": statistics.mean(rtfs), "cpu_s_per_utterance": statistics.mean(cpus)}}


async def call_figures(calls: int, speed: float, sample_rate: int, records: Path) -> dict:
    latencies, processing, outcomes = [], [], []
    for i in range(calls):
        account_id, debtor = CALLS[i % len(CALLS)]
        sim = Simulation(load_account(f"{ACCOUNTS}:{account_id}"), parse_debtor(debtor),
                         today=date(2026, 11, 23), speed=speed, sample_rate=sample_rate, records_dir=records)
        result = await sim.run()
        latencies += result.line_latencies_ms
        processing += result.processing_ms
        outcomes.append(result.summary["outcome"])
    return {"turns": len(latencies), "outcomes": outcomes,
            "turn_latency_ms": {"p50": pct(latencies, 50), "p95": pct(latencies, 95)},
            "processing_ms": {"p50": pct(processing, 50), "p95": pct(processing, 95)}}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--sample-rate", type=int, default=8000)
    parser.add_argument("--json", type=Path, default=Path("var/bench/voice_loop.json"))
    args = parser.parse_args()
    figures = {
        "tts": await tts_figures(args.sample_rate),
        "asr": await asr_figures(args.sample_rate),
        "calls": await call_figures(args.calls, args.speed, args.sample_rate, Path("var/bench/calls")),
        "cores": os.cpu_count(), "speed": args.speed, "sample_rate": args.sample_rate,
    }
    table = Table(title=f"voice loop ({args.calls} calls, speed {args.speed:g}, {args.sample_rate} Hz)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    c = figures["calls"]
    fmt = lambda v: "n/a" if v is None else f"{v:.0f} ms"  # noqa: E731
    table.add_row("turn latency p50 / p95", f"{fmt(c['turn_latency_ms']['p50'])} / {fmt(c['turn_latency_ms']['p95'])}")
    table.add_row("processing after end of turn p50 / p95",
                  f"{fmt(c['processing_ms']['p50'])} / {fmt(c['processing_ms']['p95'])}")
    table.add_row("ASR RTF (Whisper tiny.en short window)", f"{figures['asr']['whisper_short_window']['rtf']:.3f}")
    table.add_row("ASR CPU-s per utterance", f"{figures['asr']['whisper_short_window']['cpu_s_per_utterance']:.2f}")
    for voice, tts in figures["tts"].items():
        table.add_row(f"TTS RTF ({voice})", f"{tts['rtf']:.3f}")
    table.add_row("outcomes", ", ".join(c["outcomes"]))
    Console().print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    quiet_logs()  # warnings only, unless LOGURU_LEVEL
    asyncio.run(main())

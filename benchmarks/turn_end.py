"""End of the debtor's turn: premature cut-offs and delay, silence only (vad) against Smart Turn.

    .venv/bin/python benchmarks/turn_end.py [--modes vad,smart] [--set dev|heldout|all]
        [--concurrency 4] [--json var/bench/turn_end.json]

Turns are made offline, in two voices (Piper en-joe through the project's catalogue, espeak-ng
en-us): *paused* turns, sentences with 1-2 hesitations at natural points ("I can pay | um | on
Friday", "my husband | handles the bills"), and *plain* turns said straight through. A paused
sentence is synthesised whole with a comma at each `|` (so its intonation runs on through the
pause as a speaker's would), then the gap the voice left at each comma is replaced by 0.4-1.0 s
of silence. Every turn gets faint line noise and a G.711 mu-law round trip at 8 kHz, as a
carrier delivers it, and goes through the production listening side
(`voicebot.pipeline.listening.call_turn_end`: webrtcvad, the pause announcement, and for
"smart" the Smart Turn verdict on the shared inference threads) in 20 ms frames, paced in real
time (verdicts take real time), `--concurrency` turns at once.

Reported per mode, for paused and plain turns:
- premature cut-offs: the turn ended (first `VADUserStoppedSpeakingFrame`) before its last
  voiced sample, i.e. inside a pause: the bot would have answered half a sentence;
- of those, how many the dialogue takes back (the debtor's VAD start came within
  `CONTINUE_WINDOW_S` of the early end, so `DialogueProcessor` undoes the reply and hears the
  whole sentence: the cut-off costs the debtor at most a fragment of a reply, not a wrong
  answer) and how soon the debtor went on (`resume_ms`: the reply's first audio needs ~150-300
  ms, so a later resume heard the start of a reply that then stopped);
- end-of-turn delay: from the last voiced 10 ms (RMS above 300, as the simulated carrier's
  debtor times a reply) to the turn's end, p50 / p95, over the turns not cut off (the silence
  a debtor waits before the bot even starts to answer);
- for "smart": the model's cost (CPU ms per inference, pause-to-verdict ms) and, from a probe
  pass in which no verdict ends a turn, what other thresholds would give (`--sweep`).

Nothing is asserted: this measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


import numpy as np  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    EndFrame, Frame, InputAudioRawFrame, VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame)
from pipecat.pipeline.worker import PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from amd_set import line, speak, trim  # noqa: E402  (voices, line noise + mu-law, trimming)

from voicebot.audio.vad.pause import PauseVADProcessor  # noqa: E402
from voicebot.cli.logging_setup import quiet_logs  # noqa: E402
from voicebot.frames import UserPausedFrame  # noqa: E402
from voicebot.audio.vad.text_turn import TextTurnVADProcessor  # noqa: E402
from voicebot.audio.vad.turn_end import SmartTurnVADProcessor  # noqa: E402
from voicebot.pipeline import listening  # noqa: E402
from voicebot.pipeline.dialogue_processor import CONTINUE_WINDOW_S  # noqa: E402
from voicebot.pipeline.offline import run_offline  # noqa: E402
from voicebot.transports.simulated.debtor import last_voiced_s  # noqa: E402


RATE = 8000
FRAME_MS = 20
LEAD_S = 0.6
TAIL_S = 2.2     # longer than the smart mode's longest silence
VOICES = ("en-joe", "espeak:en-us")
PAUSE_RANGE = (0.4, 1.0)

# `|` marks a hesitation. dev: what the threshold was chosen on; heldout: written after.
PAUSED = {
    "dev": [
        "I can pay | um | on Friday.",
        "My husband | handles the bills.",
        "I can pay | on Friday.",
        "I get paid | on the fifteenth.",
        "I lost my job | and | I can't pay right now.",
        "I think | I can pay | maybe next week.",
        "Can you | um | call me back tomorrow?",
        "I already paid | uh | last month.",
        "The problem is | I don't have the money.",
        "I could send | fifty dollars | on Monday.",
    ],
    "heldout": [
        "Well | I need to talk to my wife first.",
        "I'm not sure | how much I owe.",
        "Let me | uh | check my calendar.",
        "I want to pay | but | not all at once.",
        "My bank | um | didn't send the payment.",
        "I was going to | call you | this week.",
        "If I pay | the whole thing | will you stop calling?",
        "I can do | maybe | two hundred.",
    ],
}
TURN_SETS = Path(__file__).resolve().parent.parent / "tests/data/turns"  # the blind sets
PLAIN = {
    "dev": [
        "Yes, this is John.", "I can pay on Friday.", "How much do I owe?", "Stop calling me.",
        "I lost my job last month.", "Can I pay in installments?", "No.", "Who is this?",
    ],
    "heldout": [
        "Yes, speaking.", "I already paid that.", "I will pay fifty dollars next week.",
        "Can you call me back tomorrow?", "That's not my debt.", "Okay, that works for me.",
    ],
}


def _locked() -> None:
    """The blind sets, measured on and never tuned on: tests/data/turns/locked_en.yml as
    "locked", locked_en_b.yml as "locked_b"."""
    import yaml

    for path in sorted(TURN_SETS.glob("locked_en*.yml")):
        name = "locked" + path.stem.removeprefix("locked_en")
        data = yaml.safe_load(path.read_text())
        PAUSED[name], PLAIN[name] = data["paused"], data["plain"]


_locked()


@dataclass
class Turn:
    name: str
    text: str
    voice: str
    paused: bool
    segments: list[tuple[float, float]]  # voiced stretches (s from the clip's start)
    pauses: list[float] = field(default_factory=list)  # inserted silences, s
    audio: np.ndarray | None = None

    @property
    def speech_end(self) -> float:
        return self.segments[-1][1]

    @property
    def last_words(self) -> float:
        return self.segments[-1][0]


def quiet_runs(pcm: np.ndarray, frame: int = 80, floor: float = 0.03) -> list[tuple[int, int]]:
    """(start, end) samples of stretches quieter than `floor` of the loudest 10 ms."""
    n = len(pcm) // frame
    rms = np.sqrt(np.mean(pcm[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1))
    quiet = rms < floor * rms.max()
    runs, i = [], 0
    while i < n:
        if quiet[i]:
            j = i
            while j < n and quiet[j]:
                j += 1
            runs.append((i * frame, j * frame))
            i = j
        else:
            i += 1
    return runs


async def make_turn(text: str, voice: str, name: str, rng: np.random.Generator) -> Turn | None:
    """One turn; a paused sentence whose comma gaps cannot be found is skipped (None)."""
    pieces = [p.strip() for p in text.split("|")]
    speech = trim(await speak(", ".join(pieces), voice))
    cuts: list[tuple[int, int]] = []
    if len(pieces) > 1:
        runs = [r for r in quiet_runs(speech) if r[1] - r[0] >= 0.06 * RATE]
        cuts = sorted(sorted(runs, key=lambda r: r[0] - r[1])[: len(pieces) - 1])
        if len(cuts) != len(pieces) - 1:
            return None
    parts, segments, pauses = [np.zeros(int(LEAD_S * RATE), np.int16)], [], []
    at, start = int(LEAD_S * RATE), 0
    for a, b in [*cuts, (len(speech), len(speech))]:
        voiced = speech[start:a]
        parts.append(voiced)
        # Ends where the simulated carrier's debtor hears a line end (last 10 ms above RMS 300).
        segments.append((at / RATE, at / RATE + last_voiced_s(voiced, RATE)))
        at += len(voiced)
        if a < len(speech):
            gap = float(rng.uniform(*PAUSE_RANGE))
            pauses.append(round(gap, 3))
            parts.append(np.zeros(int(gap * RATE), np.int16))
            at += int(gap * RATE)
        start = b
    parts.append(np.zeros(int(TAIL_S * RATE), np.int16))
    return Turn(name, text, voice, bool(cuts), segments, pauses, line(np.concatenate(parts), rng))


async def build(which: str = "all", seed: int = 11, variants: int = 2) -> tuple[list[Turn], int]:
    """The turns of `which` set(s); paused sentences `variants` times (other pause lengths)."""
    rng = np.random.default_rng(seed)
    sets = ["dev", "heldout"] if which == "all" else which.split("+")
    turns, skipped = [], 0
    for voice in VOICES:
        for s in sets:
            for i, text in enumerate(PAUSED[s]):
                for v in range(variants):
                    turn = await make_turn(text, voice, f"{s}-paused-{i}-{v}-{voice}", rng)
                    skipped += turn is None
                    turns += [turn] if turn else []
            for i, text in enumerate(PLAIN[s]):
                turn = await make_turn(text, voice, f"{s}-plain-{i}-{voice}", rng)
                turns += [turn] if turn else []
    return turns, skipped


class _Tap(FrameProcessor):
    """Notes where (in seconds of audio passed) each VAD start/stop and pause came out."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.samples = 0
        self.events: list[tuple[str, float, float]] = []  # (kind, audio s, wall s)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            kind = {InputAudioRawFrame: None, VADUserStartedSpeakingFrame: "start",
                    VADUserStoppedSpeakingFrame: "stop", UserPausedFrame: "pause"}.get(type(frame))
            if isinstance(frame, InputAudioRawFrame):
                self.samples += len(frame.audio) // 2
            elif kind:
                self.events.append((kind, self.samples / RATE, time.perf_counter()))
        await self.push_frame(frame, direction)


@dataclass
class Outcome:
    name: str
    paused: bool
    voice: str
    stops: list[float]
    premature: bool
    delay_s: float | None  # last voiced sample to the turn's end (None: cut off, or no end)
    resume_s: float | None = None  # cut off: the turn's end to the debtor's next VAD start
    pause_at: list[float] = field(default_factory=list)  # pause announcements (audio s)
    probabilities: list[float] = field(default_factory=list)  # the verdict on each
    verdict_ms: list[float] = field(default_factory=list)  # pause announced -> verdict back
    cpu_ms: list[float] = field(default_factory=list)
    heard: list = field(default_factory=list)  # "text": (words at a pause, verdict, ended)


async def run_turn(turn: Turn, mode: str, threshold: float | None = None) -> Outcome:
    """`turn` through the call's VAD + turn end, paced at real time. `mode` "vad:1.0" is the
    silence-only turn end with another stop (a reference, not a call setting)."""
    if mode.startswith("vad:"):
        vad = PauseVADProcessor(vad_analyzer=listening.call_vad(RATE, "webrtc", float(mode[4:])))
    elif mode.startswith("text:"):  # another wait for a sentence that often goes on
        vad = listening.call_turn_end(RATE, "webrtc", "text")
        vad._probable_secs = float(mode[5:])
    else:
        vad = listening.call_turn_end(RATE, "webrtc", mode)
    if threshold is not None and isinstance(vad, SmartTurnVADProcessor):
        vad._threshold = threshold
    tap = _Tap()
    # "text" ends turns on the recogniser's words at a pause: the recogniser is part of it.
    ear = [listening.call_recogniser("en", RATE)] if isinstance(vad, TextTurnVADProcessor) else []
    async def feed(worker: PipelineWorker) -> None:
        step = RATE * FRAME_MS // 1000
        t0 = time.perf_counter()
        for i, at in enumerate(range(0, len(turn.audio) - step + 1, step)):
            delay = t0 + i * FRAME_MS / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await worker.queue_frame(InputAudioRawFrame(turn.audio[at:at + step].tobytes(), RATE, 1))
        await asyncio.sleep(0.3)  # a last verdict in flight
        await worker.queue_frame(EndFrame())

    await run_offline([vad, tap, *ear], RATE, feed)
    stops = [at for kind, at, _ in tap.events if kind == "stop"]
    first = stops[0] if stops else None
    premature = first is not None and first < turn.speech_end  # ended before the last words did
    resumed = [at for kind, at, _ in tap.events if kind == "start" and first is not None and at > first]
    out = Outcome(turn.name, turn.paused, turn.voice, stops, premature,
                  None if first is None or premature else first - turn.speech_end,
                  resume_s=resumed[0] - first if premature and resumed else None,
                  pause_at=[at for kind, at, _ in tap.events if kind == "pause"])
    if isinstance(vad, TextTurnVADProcessor):
        out.heard = [(text, sounds.value, ended) for text, sounds, ended in vad.verdicts]
    if isinstance(vad, SmartTurnVADProcessor):
        pauses = [wall for kind, _, wall in tap.events if kind == "pause"]
        verdicts = list(vad.verdicts)
        out.probabilities = [round(v.probability, 4) for v, _ in verdicts]
        out.cpu_ms = [v.cpu_secs * 1000 for v, _ in verdicts]
        stops_wall = [wall for kind, _, wall in tap.events if kind == "stop"]
        if stops_wall and any(ended for _, ended in verdicts) and pauses:
            before = [p for p in pauses if p <= stops_wall[0]]
            out.verdict_ms = [(stops_wall[0] - before[-1]) * 1000] if before else []
    return out


async def run_all(turns: list[Turn], mode: str, concurrency: int, threshold: float | None = None) -> list[Outcome]:
    gate = asyncio.Semaphore(concurrency)

    async def one(turn: Turn) -> Outcome:
        async with gate:
            return await run_turn(turn, mode, threshold)

    return list(await asyncio.gather(*(one(t) for t in turns)))


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summarise(outcomes: list[Outcome]) -> dict:
    out = {}
    for label, paused in (("paused", True), ("plain", False)):
        group = [o for o in outcomes if o.paused == paused]
        delays = [o.delay_s * 1000 for o in group if o.delay_s is not None]
        resumes = [o.resume_s * 1000 for o in group if o.resume_s is not None]
        out[label] = {
            "turns": len(group),
            "premature": sum(o.premature for o in group),
            "premature_rate": sum(o.premature for o in group) / len(group) if group else None,
            # cut off, but the debtor went on soon enough for the dialogue to take the turn back
            "continued": sum(o.premature and o.resume_s is not None and o.resume_s <= CONTINUE_WINDOW_S
                             for o in group),
            "resume_ms": {"p50": pct(resumes, 50), "p95": pct(resumes, 95)},
            "no_end": sum(not o.stops for o in group),
            "delay_ms": {"p50": pct(delays, 50), "p95": pct(delays, 95), "max": max(delays, default=None)},
        }
    cpu = [c for o in outcomes for c in o.cpu_ms]
    verdict = [c for o in outcomes for c in o.verdict_ms]
    if cpu:
        out["model"] = {"inferences": len(cpu), "cpu_ms_p50": pct(cpu, 50), "cpu_ms_p95": pct(cpu, 95),
                        "pause_to_end_ms_p50": pct(verdict, 50), "pause_to_end_ms_p95": pct(verdict, 95)}
    return out


def sweep(turns: list[Turn], probes: list[Outcome], thresholds: list[float], max_silences: list[float],
          verdict_s: float) -> dict:
    """What other settings would do, from the probe pass (every pause asked, none ended a
    turn): at each announced pause the turn ends `verdict_s` later if P(complete) is above the
    threshold and the debtor is still silent then; else the VAD ends it once the silence
    reaches the longest silence. Estimates; check a chosen setting with a real pass."""
    by_name = {t.name: t for t in turns}
    result = {}
    for threshold in thresholds:
        for longest in max_silences:
            sim = []
            for probe in probes:
                turn = by_name[probe.name]
                starts = [a for a, _ in turn.segments]
                end = None
                for at, p in zip(probe.pause_at, probe.probabilities):
                    resumes = next((a for a in starts if a > at), float("inf"))
                    silent_from = at - probe_pause_s
                    if p > threshold and at + verdict_s < resumes:
                        end = at + verdict_s
                    elif silent_from + longest < resumes:
                        end = silent_from + longest
                    if end is not None:
                        break
                if end is None:  # no pause announced after the last words (should not happen)
                    end = turn.speech_end + longest
                premature = end < turn.speech_end
                sim.append(Outcome(probe.name, probe.paused, probe.voice, [end], premature,
                                   None if premature else end - turn.speech_end))
            result[f"{threshold:g}/{longest:g}"] = summarise(sim)
    return result


probe_pause_s = listening.TURN_PAUSE_SECS


def show(mode: str, figures: dict) -> None:
    for label in ("paused", "plain"):
        f = figures[label]
        d = f["delay_ms"]
        fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
        print(f"  {mode:6} {label:6} turns {f['turns']:3}  premature {f['premature']:3} "
              f"({(f['premature_rate'] or 0) * 100:4.1f} %)  end delay p50 {fmt(d['p50'])} "
              f"p95 {fmt(d['p95'])} max {fmt(d['max'])} ms")
        if f["premature"]:
            r = f["resume_ms"]
            print(f"  {'':6} {'':6} of the cut-offs, taken back when the debtor went on: {f['continued']} "
                  f"(went on after p50 {fmt(r['p50'])} p95 {fmt(r['p95'])} ms)")
    if "model" in figures:
        m = figures["model"]
        fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
        print(f"  {mode:6} model: {m['inferences']} inferences, CPU p50/p95 {fmt(m['cpu_ms_p50'])}/"
              f"{fmt(m['cpu_ms_p95'])} ms, pause -> end p50/p95 {fmt(m['pause_to_end_ms_p50'])}/"
              f"{fmt(m['pause_to_end_ms_p95'])} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="vad,smart")
    parser.add_argument("--set", default="all", help="dev, heldout, all (dev+heldout), locked, locked_b, or a+b")
    parser.add_argument("--variants", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--pause", type=float, default=None, help="override TURN_PAUSE_SECS (smart, text)")
    parser.add_argument("--threshold", type=float, default=None, help="override TURN_COMPLETE_THRESHOLD")
    parser.add_argument("--sweep", default="", help="thresholds to estimate from a probe pass, e.g. 0.5,0.7,0.9")
    parser.add_argument("--sweep-silence", default="0.8,1.0,1.2", help="longest silences for the estimates")
    parser.add_argument("--probes", type=Path, default=None, help="reuse the probe pass of an earlier --json")
    parser.add_argument("--json", type=Path, default=Path("var/bench/turn_end.json"))
    args = parser.parse_args()

    if args.pause:
        listening.TURN_PAUSE_SECS = listening.TEXT_PAUSE_SECS = args.pause
    turns, skipped = ([], 0) if args.probes else await build(args.set, variants=args.variants)
    paused = [t for t in turns if t.paused]
    print(f"{len(turns)} turns ({len(paused)} paused, {sum(len(t.pauses) for t in paused)} pauses of "
          f"{PAUSE_RANGE[0]}-{PAUSE_RANGE[1]} s; {skipped} skipped: comma gaps not found), "
          f"cores {os.cpu_count()}, load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    report: dict = {"turns": [{k: v for k, v in asdict(t).items() if k != "audio"} for t in turns],
                    "settings": {"pause_s": listening.TURN_PAUSE_SECS, "text_pause_s": listening.TEXT_PAUSE_SECS,
                                 "probable_s": listening.TURN_PROBABLE_SECS, "vad_stop_s": listening.VAD_STOP_SECS,
                                 "max_silence_s": listening.TURN_MAX_SILENCE_SECS,
                                 "threshold": args.threshold or listening.TURN_COMPLETE_THRESHOLD},
                    "load_before": os.getloadavg(), "modes": {}}
    for mode in args.modes.split(","):
        outcomes = await run_all(turns, mode, args.concurrency, args.threshold)
        figures = summarise(outcomes)
        report["modes"][mode] = {"figures": figures, "outcomes": [asdict(o) for o in outcomes]}
        show(mode, figures)
    if args.sweep:
        if args.probes:  # the turns and probe pass of an earlier run
            earlier = json.loads(args.probes.read_text())
            turns = [Turn(**{**t, "segments": [tuple(x) for x in t["segments"]]}) for t in earlier["turns"]]
            probes = [Outcome(**o) for o in earlier["sweep"]["probes"]]
        else:
            probes = await run_all(turns, "smart", args.concurrency, threshold=0.999999)
        cost = summarise(probes).get("model", {})
        verdict_s = 0.02 + (cost.get("cpu_ms_p50") or 100) / 1000 * 1.4
        thresholds = [float(x) for x in args.sweep.split(",")]
        longest = [float(x) for x in args.sweep_silence.split(",")]
        estimates = sweep(turns, probes, thresholds, longest, verdict_s)
        report["sweep"] = {"verdict_s": verdict_s, "estimates": {str(k): v for k, v in estimates.items()},
                           "probes": [asdict(o) for o in probes]}
        print(f"  estimated from the probe pass (threshold/longest silence; verdict "
              f"{verdict_s * 1000:.0f} ms after the pause):")
        for setting, figures in estimates.items():
            show(setting, figures)
    report["load_after"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    quiet_logs()  # warnings only, unless LOGURU_LEVEL
    asyncio.run(main())

"""The labelled answering-machine set, made offline: machine greetings and live answers at 8 kHz.

    .venv/bin/python benchmarks/amd_set.py [--out var/amd_set] [--rebuild]   # build (cached), list

Two sets: `dev` (the texts the detector's settings were tuned on) and `heldout` (other
greetings and answers, another seed, written after the settings were fixed).

Machines: greetings of 1.5-9 s in three voices (Piper en-joe, Piper en-kate, espeak-ng
en-us+f3), most ending in a beep (400-1800 Hz, 0.2-1 s, after a short gap), some ending in
silence.  People: "hello?", "yes who is it", a pause then "hello", "hello, this is John
speaking"... in the same voices, then the quiet of someone waiting.  Every clip gets faint
white noise and a G.711 mu-law round trip, as a carrier delivers it.  t = 0 is the answer.
Deterministic: a fixed seed picks gaps, tones and noise levels.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from voicebot.audio.amd.tones import beep

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

RATE = 8000
VOICES = ("en-joe", "en-kate", "espeak:en-us+f3")
MACHINE_GREETINGS = [
    "Please leave a message.",
    "Hi, this is John. Leave a message.",
    "You have reached the voicemail of Maria Lopez. Please leave a message after the tone.",
    "Hi, you've reached David. I can't take your call right now, but leave your name and number "
    "and I'll get back to you as soon as I can.",
    "The person you are calling is not available. At the tone, please record your message. "
    "When you have finished recording, you may hang up.",
    "Hello! Thanks for calling. We're away from the phone at the moment. Leave a message and we "
    "will call you back.",
]
HUMAN_ANSWERS = [
    "hello?", "yes, who is it?", "hello, this is John speaking", "yeah?", "hi", "hello hello?",
    "speaking", "yes?",
]
# Held out: written after the detector's settings were fixed, never used to tune them.
HELDOUT_MACHINE = [
    "Sorry I missed your call. Leave a message.",
    "Hi, it's Sam. I'm not around right now. Leave a message and I'll call you back.",
    "Your call has been forwarded to an automatic voice message system. The number you have "
    "dialed is not available. At the tone, please record your message.",
    "Hey, this is Priya. Text me instead, or leave a voicemail after the beep.",
]
HELDOUT_HUMAN = ["hello, who's calling?", "yep", "hello, Carter residence", "uh, hello?", "yes, this is he"]
SILENCE_FIRST = {"hello?", "hi", "yes?", "yep", "uh, hello?"}  # also answered after a pause
TAIL_S = 4.0


@dataclass
class Clip:
    name: str
    label: str              # human | machine
    text: str
    voice: str
    beep_start_s: float | None = None
    beep_end_s: float | None = None
    speech_end_s: float = 0.0
    audio: np.ndarray | None = None

    def meta(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "audio"}


def espeak(text: str, voice: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run([shutil.which("espeak-ng") or "espeak-ng", "-v", voice, "-s", "165", "-w", str(wav), text],
                       check=True, capture_output=True)
        raw = subprocess.run([shutil.which("sox") or "sox", "-D", str(wav), "-t", "raw", "-r", str(RATE),
                              "-e", "signed-integer", "-b", "16", "-c", "1", "-"],
                             check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.int16).copy()


async def speak(text: str, voice: str) -> np.ndarray:
    if voice.startswith("espeak:"):
        return espeak(text, voice.split(":", 1)[1])
    from voicebot.pipeline.parts import render_speech

    return await render_speech(voice, text, RATE)


def trim(audio: np.ndarray) -> np.ndarray:
    """Drop the synthesiser's own leading/trailing silence: gaps are set here, on purpose."""
    loud = np.nonzero(np.abs(audio.astype(np.int32)) > 300)[0]
    return audio[loud[0]:loud[-1] + 1] if len(loud) else audio


def line(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noise and the phone line: white noise at -58..-45 dBFS, then mu-law there and back."""
    level = 32768 * 10 ** (rng.uniform(-58, -45) / 20)
    noisy = np.clip(audio.astype(np.float64) + rng.normal(0, level, len(audio)), -32768, 32767)
    pcm = noisy.astype(np.int16).tobytes()
    return np.frombuffer(audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2), dtype=np.int16).copy()


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


async def build(limit_per_kind: int | None = None, voices: tuple[str, ...] = VOICES,
                seed: int = 7, heldout: bool = False) -> list[Clip]:
    rng = np.random.default_rng(seed)
    clips: list[Clip] = []
    machines, humans = (HELDOUT_MACHINE, HELDOUT_HUMAN) if heldout else (MACHINE_GREETINGS, HUMAN_ANSWERS)
    for v, voice in enumerate(voices):
        for i, text in enumerate(machines):
            speech = trim(await speak(text, voice))
            lead = silence(rng.uniform(0.1, 0.5))
            with_beep = (i + v) % 4 != 3  # one in four ends in silence
            parts, clip = [lead, speech], Clip(f"machine-{v}-{i}", "machine", text, voice)
            clip.speech_end_s = (len(lead) + len(speech)) / RATE
            if with_beep:
                gap = silence(rng.uniform(0.15, 0.6))
                tone = beep(float(rng.choice([440, 800, 1000, 1400, 1800])), rng.uniform(0.2, 1.0), RATE,
                            dbfs=rng.uniform(-20, -10))
                clip.beep_start_s = clip.speech_end_s + len(gap) / RATE
                clip.beep_end_s = clip.beep_start_s + len(tone) / RATE
                parts += [gap, tone]
            clip.audio = line(np.concatenate(parts + [silence(TAIL_S)]), rng)
            clips.append(clip)
        for i, text in enumerate(humans):
            speech = trim(await speak(text, voice))
            for pause in ([0.3, 1.2] if text in SILENCE_FIRST else [rng.uniform(0.2, 0.7)]):
                lead = silence(pause)
                clip = Clip(f"human-{v}-{i}-{pause:.1f}", "human", text, voice)
                clip.speech_end_s = (len(lead) + len(speech)) / RATE
                clip.audio = line(np.concatenate([lead, speech, silence(TAIL_S)]), rng)
                clips.append(clip)
    if limit_per_kind is not None:
        picked = [c for c in clips if c.label == "machine"][:limit_per_kind]
        picked += [c for c in clips if c.label == "human"][:limit_per_kind]
        return picked
    return clips


def save(clips: list[Clip], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "audio.npz", **{c.name: c.audio for c in clips})
    (folder / "labels.json").write_text(json.dumps([c.meta() for c in clips], indent=1))


def load(folder: Path) -> list[Clip] | None:
    try:
        metas = json.loads((folder / "labels.json").read_text())
        audio = np.load(folder / "audio.npz")
    except (FileNotFoundError, ValueError):
        return None
    return [Clip(**m, audio=audio[m["name"]]) for m in metas]


SETS = {"dev": {"seed": 7, "heldout": False}, "heldout": {"seed": 101, "heldout": True}}


def load_or_build(folder: Path, name: str = "dev") -> list[Clip]:
    """The named set (dev: the texts the settings were tuned on; heldout: the others), cached."""
    clips = load(folder / name)
    if clips is None:
        clips = asyncio.run(build(**SETS[name]))
        save(clips, folder / name)
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("var/amd_set"))
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    for name, options in SETS.items():
        clips = asyncio.run(build(**options)) if args.rebuild else load_or_build(args.out, name)
        save(clips, args.out / name)
        for c in clips:
            beep_at = f"{c.beep_start_s:.2f}" if c.beep_start_s else "-"
            print(f"{name:7} {c.name:22} {c.label:8} {len(c.audio) / RATE:5.1f} s  beep {beep_at:5}  {c.text[:50]}")
        print(f"{len(clips)} clips in {args.out / name}")


if __name__ == "__main__":
    main()

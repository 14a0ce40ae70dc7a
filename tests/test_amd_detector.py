"""Answering-machine detection on synthesised audio: the labelled set (a subset of
benchmarks/amd_set.py, made here offline with Piper and espeak-ng), the beep finder, the
carrier's verdict and the settings layers.  Pure numpy + webrtcvad: no pipeline."""

from __future__ import annotations

import asyncio
import sys

import numpy as np
import pytest

from conftest import REPO
from voicebot.audio.amd import AmdDetector, AmdSettings, detect, parse_answered_by, resolve_settings
from voicebot.audio.amd.tones import beep

sys.path.insert(0, str(REPO / "benchmarks"))
from amd import evaluate  # noqa: E402
from amd_set import RATE, build, line  # noqa: E402


@pytest.fixture(scope="module")
def labelled_subset():
    """Two voices (Piper en-joe, espeak-ng en-us+f3): 12 machines and 22 live answers."""
    return asyncio.run(build(voices=("en-joe", "espeak:en-us+f3"), seed=11))


def test_detector_on_synthesised_machines_and_people(labelled_subset):
    report = evaluate(labelled_subset)
    d = report["decision_s"]
    print(f"\nAMD subset: {report['clips']} clips, accuracy {report['accuracy']:.3f} "
          f"(unknown as human {report['action_accuracy']:.3f}), confusion {report['confusion']}, "
          f"decision p50 {d['p50']:.2f} s p95 {d['p95']:.2f} s max {d['max']:.2f} s")
    assert report["clips"] >= 30
    assert report["accuracy"] >= 0.85
    assert report["action_accuracy"] >= 0.9
    assert d["max"] <= 3.05  # every verdict within the deadline (plus one 20 ms frame)
    # A message never starts over the beep: the machine would record the bot's first words
    # before it started recording.
    assert report["messages_clipped"] == 0
    machines = [r for r in report["rows"] if r["label"] == "machine" and r["verdict"] == "machine"]
    assert all(r["message_at_s"] is not None and r["message_at_s"] >= r["decided_s"] for r in machines)


def _noise(seconds: float, seed: int = 1) -> np.ndarray:
    return line(np.zeros(int(seconds * RATE), dtype=np.int16), np.random.default_rng(seed))


@pytest.mark.parametrize("hz", [440.0, 1000.0, 1950.0])
def test_beep_is_found_and_the_message_waits_for_its_end(hz):
    tone = beep(hz, 0.4, RATE, dbfs=-18)
    rng = np.random.default_rng(3)
    clip = line(np.concatenate([np.zeros(int(0.5 * RATE), np.int16), tone, np.zeros(2 * RATE, np.int16)]), rng)
    d = detect(clip, RATE)
    assert d.verdict == "machine" and d.reason == "beep"
    assert d.beep_at_s == pytest.approx(0.5, abs=0.06)
    assert d.ready_at_s == pytest.approx(0.9, abs=0.06)


@pytest.mark.parametrize("hz,seconds", [(1000.0, 0.08), (250.0, 0.5), (2600.0, 0.5)])
def test_not_a_beep(hz, seconds):
    """Too short, or outside 400-2000 Hz (a hum, a ring-back harmonic): no beep verdict."""
    tone = beep(hz, seconds, RATE, dbfs=-18)
    clip = np.concatenate([_noise(0.5), tone, _noise(3.0, seed=2)])
    d = detect(clip, RATE)
    assert d.beep_at_s is None and d.reason != "beep"


def test_silence_is_unknown_at_the_deadline():
    d = detect(_noise(5.0), RATE, AmdSettings(decision_deadline_s=2.5))
    assert (d.verdict, d.reason) == ("unknown", "deadline")
    assert d.decided_at_s == pytest.approx(2.5, abs=0.021)


@pytest.mark.parametrize("answered_by,verdict,ready", [
    ("human", "human", None), ("machine_end_beep", "machine", 0.0), ("machine_end_silence", "machine", 0.0),
    ("fax", "fax", None), ("machine_start", "machine", None),
])
def test_carrier_verdict_wins_over_the_audio(answered_by, verdict, ready):
    # The audio says "person" (silence then nothing); the carrier's verdict stands.
    d = AmdDetector(RATE, answered_by=answered_by)
    assert (d.verdict, d.reason, d.ready_at_s) == (verdict, f"carrier:{answered_by}", ready)
    assert d.done is (answered_by != "machine_start")


def test_machine_start_waits_for_the_beep():
    """Twilio says machine_start as the greeting begins: the message waits for the beep."""
    clip = np.concatenate([_noise(1.0), beep(1000, 0.5, RATE), _noise(1.0)])
    d = detect(clip, RATE, answered_by="machine_start")
    assert d.verdict == "machine" and d.decided_at_s == 0.0
    assert d.ready_at_s == pytest.approx(1.5, abs=0.06) and d.reason == "carrier:machine_start+beep"


def test_unknown_carrier_verdict_leaves_it_to_the_audio():
    assert AmdDetector(RATE, answered_by="unknown").verdict is None
    with pytest.raises(ValueError, match="AnsweredBy 'robot' is not one of human"):
        parse_answered_by("robot")


def test_settings_layers_and_bad_values():
    merged = resolve_settings({"max_greeting_s": 2.5}, {"decision_deadline_s": 4})
    assert (merged.max_greeting_s, merged.decision_deadline_s, merged.silence_after_greeting_s) == (2.5, 4, 0.8)
    assert resolve_settings({"max_greeting_s": 2.5}, {"max_greeting_s": 1.5}).max_greeting_s == 1.5
    with pytest.raises(ValueError, match="max_greting_s"):
        resolve_settings({"max_greting_s": 2.5})
    with pytest.raises(ValueError, match="beep_max_hz"):
        AmdSettings(beep_min_hz=1500, beep_max_hz=1000)
    with pytest.raises(ValueError, match="8000, 16000"):
        AmdDetector(44100)

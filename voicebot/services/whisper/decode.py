"""Decode one utterance with Whisper: a short-window path and faster-whisper's standard one.

Why a short window: faster-whisper pads every input to Whisper's 30 s window, so a 1.5 s
"yes this is John" costs about 0.85 CPU-s, almost all of it in the encoder. CTranslate2's
encoder accepts fewer frames, and encoding a 10 s window costs ~0.2 CPU-s for the same
words (measured in /work/shared/STACK.md and again for this module).

Two things keep the short window as accurate as the 30 s one (measured on espeak-ng
telephone speech with tiny.en):

- The window must not hug the speech. With window = utterance + 1 s, tiny.en believes more
  speech follows and starts over ("I will pay on Friday. I will pay on"); from about 8 s up
  it ends cleanly. Hence ``min_window_secs`` (default 10) on top of the margin.
- The decode length is capped at prompt + 8 + 4 tokens per second of audio (debtor speech
  is at most ~3 tokens/s), so a decode that does loop stops early; if it hit the cap, the
  restarted tail is cut off (:func:`trim_restart`).

Utterances that do not fit in 30 s go to faster-whisper's ``transcribe``, which seeks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import ctranslate2
import numpy as np

from voicebot.services.whisper.model import SharedWhisper

SAMPLE_RATE = 16000
FRAMES_PER_SEC = 100  # Whisper log-mel hop is 10 ms
MAX_WINDOW_SECS = 30
#: Whisper's decoder context; a prompt may use at most half of it.
MAX_LENGTH = 448


@dataclass(frozen=True)
class Transcript:
    """What one decode produced.

    Attributes:
        text: Recognised words ("" when judged to be no speech).
        no_speech_prob: Whisper's probability that the window holds no speech.
        avg_logprob: Mean token log-probability of the chosen hypothesis.
        window_secs: Encoder window used (30 for the standard path).
        hit_cap: Whether decoding stopped at the token cap instead of end-of-text.
    """

    text: str
    no_speech_prob: float
    avg_logprob: float
    window_secs: float
    hit_cap: bool = False


def build_prompt(
    shared: SharedWhisper, hotwords: str | None, initial_prompt: str | None
) -> list[int]:
    """Decoder prompt: optional vocabulary context, then start-of-transcript, no timestamps.

    Hotwords then the initial prompt go after ``<|startofprev|>`` as "previous text", which is
    how Whisper is steered towards a script's names and terms (faster-whisper does the same).
    """
    tok = shared.tokenizer
    context: list[int] = []
    for text in (hotwords, initial_prompt):
        if text and text.strip():
            context += tok.encode(" " + text.strip())
    prompt: list[int] = []
    if context:
        prompt = [tok.sot_prev] + context[-(MAX_LENGTH // 2 - 1) :]
    return prompt + list(tok.sot_sequence) + [tok.no_timestamps]


def window_secs_for(audio_secs: float, min_window_secs: float, margin_secs: float) -> int:
    """Encoder window: the utterance rounded up plus a margin, at least ``min_window_secs``."""
    return int(min(MAX_WINDOW_SECS, max(min_window_secs, math.ceil(audio_secs + margin_secs))))


def transcribe_short(
    shared: SharedWhisper,
    audio: np.ndarray,
    *,
    beam_size: int = 5,
    hotwords: str | None = None,
    initial_prompt: str | None = None,
    min_window_secs: float = 10.0,
    margin_secs: float = 1.0,
    tokens_per_sec: float = 4.0,
    no_speech_threshold: float | None = 0.6,
    log_prob_threshold: float | None = -1.0,
) -> Transcript:
    """Transcribe float32 16 kHz mono ``audio`` with a short encoder window (CTranslate2).

    Silence rule as in faster-whisper: text is dropped when ``no_speech_prob`` exceeds
    ``no_speech_threshold`` *and* the average log-probability is below ``log_prob_threshold``.
    """
    audio_secs = len(audio) / SAMPLE_RATE
    if audio_secs + margin_secs > MAX_WINDOW_SECS:
        return transcribe_standard(
            shared, audio, beam_size=beam_size, hotwords=hotwords, initial_prompt=initial_prompt,
            no_speech_threshold=no_speech_threshold, log_prob_threshold=log_prob_threshold,
        )
    window = window_secs_for(audio_secs, min_window_secs, margin_secs)
    frames = window * FRAMES_PER_SEC
    # Like faster-whisper: features of the real audio, then zero-padded (not padded audio).
    mel = shared.features(audio)[:, :-1][:, :frames]
    mel = np.pad(mel, ((0, 0), (0, frames - mel.shape[1])))
    encoded = shared.model.model.encode(
        ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None], dtype=np.float32))
    )
    prompt = build_prompt(shared, hotwords, initial_prompt)
    max_new = 8 + math.ceil(tokens_per_sec * audio_secs)
    max_length = min(MAX_LENGTH, len(prompt) + max_new)
    result = shared.model.model.generate(
        encoded,
        [prompt],
        beam_size=beam_size,
        max_length=max_length,
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=list(shared.suppress_tokens),
    )[0]
    tokens = result.sequences_ids[0]
    hit_cap = len(prompt) + len(tokens) >= max_length
    avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1) if tokens else -math.inf
    text = shared.tokenizer.decode(tokens).strip()
    # Tiny Whisper on a short line padded to a 10 s window often starts the line over,
    # capped or not ("What do I owe? What do I owe?"); a debtor who truly says the same
    # words twice in one breath loses only the repeat, which changes neither intent nor entities.
    text = trim_restart(text)
    if _is_silence(result.no_speech_prob, avg_logprob, no_speech_threshold, log_prob_threshold):
        text = ""
    return Transcript(text, float(result.no_speech_prob), float(avg_logprob), window, hit_cap)


def transcribe_standard(
    shared: SharedWhisper,
    audio: np.ndarray,
    *,
    beam_size: int = 5,
    hotwords: str | None = None,
    initial_prompt: str | None = None,
    no_speech_threshold: float | None = 0.6,
    log_prob_threshold: float | None = -1.0,
) -> Transcript:
    """faster-whisper's own ``transcribe`` (30 s window, seeks through long audio)."""
    segments, _info = shared.model.transcribe(
        audio,
        language=shared.language,
        beam_size=beam_size,
        hotwords=hotwords or None,
        initial_prompt=initial_prompt or None,
        without_timestamps=True,
        condition_on_previous_text=False,
        no_speech_threshold=no_speech_threshold,
        log_prob_threshold=log_prob_threshold,
    )
    segments = list(segments)  # the generator decodes lazily: consume it here
    text = " ".join(s.text.strip() for s in segments).strip()
    no_speech = max((s.no_speech_prob for s in segments), default=1.0)
    logprob = float(np.mean([s.avg_logprob for s in segments])) if segments else -math.inf
    return Transcript(text, float(no_speech), logprob, MAX_WINDOW_SECS)


def _is_silence(no_speech: float, logprob: float, ns_threshold: float | None,
                lp_threshold: float | None) -> bool:
    if ns_threshold is None or no_speech <= ns_threshold:
        return False
    return lp_threshold is None or logprob < lp_threshold


def _norm(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_UNITS = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+")


def trim_restart(text: str, min_words: int = 2) -> str:
    """Cut a capped decode that started the sentence over.

    "Stop calling me! Stop calling me! Stop" becomes "Stop calling me!": the shortest
    prefix of at least ``min_words`` words such that everything after it repeats it.
    Chinese has no spaces, so there each character counts as a word: "我明天还我明天还我明"
    becomes "我明天还", and Whisper base's loops ("键键键键键键") shrink to two characters.
    """
    spans = list((_UNITS if _HAN.search(text) else re.compile(r"\S+")).finditer(text))
    words = [_norm(m.group()) for m in spans]
    n = len(words)
    for period in range(min_words, n - min_words + 1):
        if all(words[i] == words[i - period] for i in range(period, n)):
            return text[: spans[period - 1].end()]
    return text

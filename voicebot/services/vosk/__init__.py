"""Streaming ASR with Vosk (Kaldi): partial and final transcripts, optional phrase grammar."""

from voicebot.services.vosk.model import (
    MODEL_PATH_ENV,
    build_grammar,
    default_model_path,
    load_model,
    packaged_korean_model_path,
    supports_grammar,
)
from voicebot.services.vosk.stt import VoskSTTService, VoskSTTSettings

__all__ = [
    "MODEL_PATH_ENV",
    "VoskSTTService",
    "VoskSTTSettings",
    "build_grammar",
    "default_model_path",
    "load_model",
    "packaged_korean_model_path",
    "supports_grammar",
]

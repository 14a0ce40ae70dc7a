"""The media-stream server: carriers' WebSocket audio in, one voice-loop call per stream."""

from voicebot.server.app import create_app
from voicebot.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]

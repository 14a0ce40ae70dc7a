"""The media-stream server: carriers' WebSocket audio in, one voice-loop call per stream."""

from telephony.server.app import create_app
from telephony.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]

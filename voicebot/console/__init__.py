"""The supervisor console, served by `voicebot serve` at /console (see docs/console.md)."""

from voicebot.console.mount import mount_console

__all__ = ["mount_console"]

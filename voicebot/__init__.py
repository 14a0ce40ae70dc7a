"""Real-time engine: CLI, call sessions, and (later) the audio pipeline and web console."""

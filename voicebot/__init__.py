"""The engine and the application: the voice pipeline and its ASR/TTS services, the media-stream
server, the supervisor console, call records, the CLI and the benchmark.  The top layer: it
imports telephony, dialogue and audio_models, and none of them imports it (docs/architecture.md)."""

"""The per-call pipecat pipeline: VAD → ASR → dialogue → TTS, and its own processors."""

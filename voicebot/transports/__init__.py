"""Transports this engine adds to pipecat's (one folder each)."""

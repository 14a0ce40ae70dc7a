"""Audio analysis for the listening side of a call (voice activity detection)."""

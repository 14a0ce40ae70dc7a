"""The edges to phone networks: media-stream server, carrier providers, handoff, campaigns."""

"""The edges to phone networks: carrier providers, the live bus, the handoff queue, campaign
rules and stores, SMS.  Imports dialogue and audio_models, never voicebot (docs/architecture.md)."""

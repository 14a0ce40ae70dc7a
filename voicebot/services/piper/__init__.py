"""Catalogue voices on Piper in-process (see `tts.py`); the engine-neutral base they share is
`voicebot/services/catalogue_tts/`."""

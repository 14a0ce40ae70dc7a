"""Catalogue voices on espeak-ng, run as a subprocess (see `tts.py`)."""

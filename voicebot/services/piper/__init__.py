"""Catalogue voices on Piper in-process (`tts.py`), and the engine-neutral TTS base (`base.py`).

Kept free of imports so that the espeak-ng service can use `base` without loading Piper.
"""

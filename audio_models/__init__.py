"""Voice and recogniser catalogue (`voices.yaml`) and the per-process model loader.

`catalogue` answers "which model is voice X / the recogniser for locale Y, and where are its
files"; `loader` loads each model once per process; `prompt_cache` keeps rendered static prompts.
Nothing here imports pipecat, so the catalogue can be validated without the audio stack.
"""

from audio_models.catalogue import (
    Catalogue,
    ModelNotFoundError,
    UnknownModelError,
    load_catalogue,
    recognizer,
    recognizer_for,
    voice,
    voices_for,
)

__all__ = [
    "Catalogue",
    "ModelNotFoundError",
    "UnknownModelError",
    "load_catalogue",
    "recognizer",
    "recognizer_for",
    "voice",
    "voices_for",
]

"""How a call listens: its VAD and end-of-turn settings and the locale's recogniser with a
call's decode settings.

Kept apart from `parts` (which also picks the voice and needs a CallSession) so that anything
measuring what a call hears, such as `voicebot nlu eval --audio`, builds exactly the same
listening side from a locale and a list of hint words, without a session or an account, and
cannot drift from what calls use.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams
from pipecat.processors.frame_processor import FrameProcessor

from audio_models.catalogue import load_catalogue
from voicebot import config
from voicebot.audio.vad.factory import make_vad_analyzer
from voicebot.audio.vad.pause import PauseVADProcessor

VAD_STOP_SECS = 0.5   # trailing silence that ends a debtor turn (turn end "vad")
VAD_START_SECS = 0.2  # speech needed to count as the debtor talking (barge-in)
WHISPER_BEAM = 1      # greedy: as accurate on short debtor lines, faster, no repeated tails

# How a turn ends (docs/performance.md, "Turn end"): "text" (the default) judges the words the
# recogniser decoded at each short pause (TEXT_PAUSE_SECS) and ends the turn at once if they sound
# finished, at TURN_PROBABLE_SECS if they are a whole sentence that often goes on, else at
# TURN_MAX_SILENCE_SECS; "smart" asks Smart Turn v3 at each 0.2 s pause and ends the turn there
# if it sounds finished, else after TURN_MAX_SILENCE_SECS; "vad" ends every turn after
# VAD_STOP_SECS. VOICEBOT_TURN=text|smart|vad picks one per process. Measured on turns written
# blind, "text" cut off fewer paused sentences than "vad" and answered ~190 ms sooner.
TURN_ENDS = ("text", "smart", "vad")
TURN_END = "text"
TURN_ENV = "VOICEBOT_TURN"
TURN_PAUSE_SECS = 0.2          # smart: silence at which the model (and the recogniser) are asked
TEXT_PAUSE_SECS = 0.12         # text: silence at which the recogniser decodes and its words are judged
# smart: P(complete) above which a pause ends the turn by default (VOICEBOT_TURN_THRESHOLD, to
# measure others: `EngineSettings.turn_threshold`)
TURN_COMPLETE_THRESHOLD = 0.5
TURN_MAX_SILENCE_SECS = 1.2    # smart, text: the silence that ends a turn never called complete
TURN_PROBABLE_SECS = 0.7       # text: the silence that ends a whole sentence that often goes on


def turn_end(mode: str | None = None) -> str:
    """`mode`, else the settings' (VOICEBOT_TURN, default TURN_END); refuses anything but the
    TURN_ENDS."""
    chosen = (mode or config.current().turn).strip().lower()
    if chosen not in TURN_ENDS:
        raise ValueError(f"turn end must be one of {', '.join(TURN_ENDS)} (got {chosen!r}, {TURN_ENV})")
    return chosen


def call_vad(sample_rate: int, vad_kind: str = "webrtc", stop_secs: float = VAD_STOP_SECS) -> VADAnalyzer:
    """A fresh analyzer with a call's turn timing (analyzers keep per-stream state)."""
    return make_vad_analyzer(vad_kind, sample_rate,  # type: ignore[arg-type]
                             VADParams(start_secs=VAD_START_SECS, stop_secs=stop_secs))


def call_turn_end(sample_rate: int, vad_kind: str = "webrtc", mode: str | None = None,
                  locale: str = "en") -> PauseVADProcessor:
    """The VAD processor a call puts before its recogniser: VAD start/stop, the pause
    announcement, and the end of the turn on the words heard at a pause ("text"; a recogniser
    that does not decode at pauses, Vosk, falls back to "vad") or on Smart Turn's ("smart")."""
    chosen = turn_end(mode)
    if chosen == "text" and load_catalogue().recognizer_for(locale).engine == "whisper":
        from voicebot.audio.vad.text_turn import TextTurnVADProcessor

        return TextTurnVADProcessor(vad_analyzer=call_vad(sample_rate, vad_kind, TURN_MAX_SILENCE_SECS),
                                    locale=locale, probable_secs=TURN_PROBABLE_SECS,
                                    pause_secs=TEXT_PAUSE_SECS)
    if chosen != "smart":
        return PauseVADProcessor(vad_analyzer=call_vad(sample_rate, vad_kind))
    from voicebot.audio.turn.smart_turn import shared_smart_turn
    from voicebot.audio.vad.turn_end import SmartTurnVADProcessor

    return SmartTurnVADProcessor(vad_analyzer=call_vad(sample_rate, vad_kind, TURN_MAX_SILENCE_SECS),
                                 model=shared_smart_turn(), threshold=config.current().turn_threshold,
                                 pause_secs=TURN_PAUSE_SECS)


def hotwords_from(words: Iterable[str]) -> str:
    """Hint words as the recogniser takes them: space-joined, duplicates and blanks dropped."""
    return " ".join(dict.fromkeys(w for w in words if w))


def call_recogniser(locale: str, sample_rate: int, hints: Iterable[str] = ()) -> FrameProcessor:
    """The locale's recogniser as a call builds it, favouring `hints` (names, script terms)
    when its catalogue entry takes them.

    Raises:
        audio_models.catalogue.UnknownModelError: the catalogue has no recogniser for the locale.
        audio_models.catalogue.ModelNotFoundError: its model is not installed (says what to do).
    """
    catalogue = load_catalogue()
    spec = catalogue.recognizer_for(locale)
    path = catalogue.model_path(spec.id)
    if spec.engine == "whisper":
        from voicebot.services.whisper import LocalWhisperSTTService

        return LocalWhisperSTTService(sample_rate=sample_rate, model_path=path,
                                      language=spec.language or "en", convert=spec.convert,
                                      compute_type=spec.compute_type,
                                      hotwords=hotwords_from(hints) if spec.hints else None,
                                      beam_size=WHISPER_BEAM,
                                      audio_passthrough=False)  # recorded at the input already
    from voicebot.services.vosk import VoskSTTService

    return VoskSTTService(sample_rate=sample_rate, model_path=path, audio_passthrough=False)


def load_recogniser(locale: str) -> None:
    """Load the locale's recogniser model (once per process) with the settings its calls use,
    e.g. before the first call; Whisper also decodes a second of silence, since the first
    inference pays for allocations."""
    catalogue = load_catalogue()
    spec = catalogue.recognizer_for(locale)
    path = catalogue.model_path(spec.id)
    if spec.engine == "whisper":
        import numpy as np

        from voicebot.services.deadline_executor import inference_executor
        from voicebot.services.whisper import load_shared_whisper, transcribe_short

        shared = load_shared_whisper(path, language=spec.language or "en",
                                     compute_type=spec.compute_type,
                                     num_workers=inference_executor("asr").workers)
        transcribe_short(shared, np.zeros(16000, dtype=np.float32), beam_size=WHISPER_BEAM)
        return
    from voicebot.services.vosk.model import load_model

    load_model(path)

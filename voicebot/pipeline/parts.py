"""Choose the models a call uses from the catalogue: VAD, the locale's recogniser, the voice.

Everything heavy is shared per process (audio_models.loader, the Whisper/Vosk model caches,
the prompt-audio cache); what is built here per call is small state."""

from __future__ import annotations

import numpy as np

from audio_models.catalogue import ModelNotFoundError, load_catalogue
from dialogue.session import CallSession
from voicebot import config
from voicebot.pipeline.builder import CallParts
from voicebot.pipeline.listening import (  # noqa: F401  (VAD_*, WHISPER_BEAM: re-exported)
    VAD_START_SECS, VAD_STOP_SECS, WHISPER_BEAM, call_recogniser, call_turn_end)
from voicebot.services.catalogue_tts.static_text import static_text_for
from voicebot.services.tts import create_tts_service

TTS_FIRST_CHUNK = 30  # characters in the first synthesised piece: time to first audio


def make_stt(session: CallSession, sample_rate: int):
    """The locale's recogniser, hinted with the words this call is likely to hear."""
    account = session.account
    words = [account.name, account.given_name, account.lender, *session.scripts.strategy.asr_hints]
    return call_recogniser(session.scripts.locale, sample_rate, words)


def call_parts(session: CallSession, sample_rate: int, vad_kind: str = "webrtc") -> CallParts:
    vad = call_turn_end(sample_rate, vad_kind, locale=session.scripts.locale)  # VAD, pauses, turn end
    try:
        stt = make_stt(session, sample_rate)
    except ModelNotFoundError as exc:
        raise RuntimeError(f"no speech recogniser for locale {session.scripts.locale!r}: {exc}") from exc
    engine = config.current()
    tts = create_tts_service(session.voice, sample_rate=sample_rate, first_chunk_chars=TTS_FIRST_CHUNK,
                             splice_values=engine.tts_splice)
    tts.mark_static_fragments(static_text_for(session.scripts, enabled=engine.static_pieces))  # cached audio
    tts.share_values_except(session.personal_values)  # the lender, dates: cached too; names never
    return CallParts(vad=vad, stt=stt, tts=tts, sample_rate=sample_rate)


def debtor_voice_for(locale: str, bot_voice: str) -> str:
    """A voice of the locale other than the bot's, so the simulated debtor sounds different."""
    others = [v.id for v in load_catalogue().voices_for(locale) if v.id != bot_voice]
    if not others:
        raise RuntimeError(f"the catalogue has no second {locale!r} voice for a simulated debtor")
    return others[0]


async def render_speech(voice_id: str, text: str, sample_rate: int) -> np.ndarray:
    """Whole-utterance audio, int16 mono, for a simulated caller."""
    tts = create_tts_service(voice_id, sample_rate=sample_rate)
    pcm = await tts.render(text, sample_rate)
    return np.frombuffer(pcm, dtype="<i2").copy()

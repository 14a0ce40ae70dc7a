"""espeak-ng voices from the catalogue (Mandarin), run as a subprocess per piece of text.

No Mandarin Piper voice installs offline, so zh voices use espeak-ng's formant synthesis: robotic
but intelligible and very cheap (tens of ms per sentence). It runs as a separate program rather
than through a binding, so a hang or crash cannot take the call's process down, and it runs
through asyncio's subprocess support so the event loop never blocks on it. The text goes in on
stdin (never as an argument, so text starting with "-" cannot become an option) and WAV comes
back on stdout. espeak-ng writes a streaming WAV header whose data size is a placeholder, so the
header is parsed here instead of with the `wave` module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from audio_models.catalogue import EspeakVoiceSpec
from voicebot.services.catalogue_tts.service import CatalogueTTSService


class EspeakTTSService(CatalogueTTSService):
    """pipecat TTS for a catalogue espeak-ng voice id (e.g. "zh-xiaoyu", "zh-xiaogang").

    Example::

        tts = EspeakTTSService(voice_id="zh-xiaoyu", sample_rate=8000)
    """

    ENGINE = "espeak"

    def __init__(self, *, voice_id: str, timeout_s: float = 10.0, **kwargs: Any):
        """Find espeak-ng and build the command line for the voice.

        Args:
            voice_id: an espeak voice id from the catalogue.
            timeout_s: longest a single piece may take before espeak-ng is killed.
            **kwargs: see CatalogueTTSService (sample_rate, static_prompts, prompt_cache, ...).
        """
        super().__init__(voice_id=voice_id, **kwargs)
        spec = self.voice_spec
        assert isinstance(spec, EspeakVoiceSpec)
        es = spec.espeak
        binary = es.resolve_binary(voice_id)  # ModelNotFoundError says how to install it
        # -b 1: input is UTF-8, whatever the process locale.
        self._argv = [binary, "-v", es.voice, "-s", str(es.speed_wpm), "-p", str(es.pitch)]
        self._argv += ["-b", "1", "--stdout"]
        self._timeout_s = timeout_s

    async def _synthesize_piece(self, text: str, deadline: float) -> AsyncIterator[tuple[bytes, int]]:
        """The piece's PCM and rate from one espeak-ng run."""
        proc = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            wav, err = await asyncio.wait_for(
                proc.communicate(text.encode("utf-8")), self._timeout_s
            )
        finally:
            if proc.returncode is None:  # timed out or cancelled by an interruption
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            message = err.decode(errors="replace").strip()
            raise RuntimeError(f"espeak-ng exited {proc.returncode}: {message}")
        yield pcm_from_wav(wav)


def pcm_from_wav(wav: bytes) -> tuple[bytes, int]:
    """(16-bit mono PCM, sample rate) from a RIFF/WAVE blob, ignoring a placeholder data size."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("espeak-ng did not return WAV audio")
    pos, rate = 12, 0
    while pos + 8 <= len(wav):
        chunk_id, size = wav[pos : pos + 4], int.from_bytes(wav[pos + 4 : pos + 8], "little")
        body = pos + 8
        if chunk_id == b"fmt ":
            channels = int.from_bytes(wav[body + 2 : body + 4], "little")
            rate = int.from_bytes(wav[body + 4 : body + 8], "little")
            bits = int.from_bytes(wav[body + 14 : body + 16], "little")
            if (channels, bits) != (1, 16):
                raise ValueError(f"expected 16-bit mono WAV, got {bits}-bit x {channels}")
        elif chunk_id == b"data":
            if not rate:
                raise ValueError("WAV data chunk before its fmt chunk")
            pcm = wav[body : body + size]  # size may exceed what is there (streaming header)
            return pcm[: len(pcm) & ~1], rate
        pos = body + size + (size & 1)
    raise ValueError("WAV audio has no data chunk")

"""What a carrier does to a caller's voice on its way to the bot: 8 kHz, G.711 mu-law, silence.

The bot hears callers through Twilio Media Streams (or a SIP gateway) as 8 kHz mu-law, decoded
by the server's serializer (`telephony/carriers/twilio/serializer.py`, pipecat's `ulaw_to_pcm`).
An evaluation that feeds clean 22 kHz synthesis to the recogniser would measure a better line
than any caller has, so speech goes through the same codec functions the carrier path uses:
resampled with pipecat's file resampler (soxr) to 8 kHz, encoded and decoded with pipecat's
mu-law helpers. The carrier's 20 ms packetisation is kept when the audio is fed as frames
(`recognise.FRAME_MS`).
"""

from __future__ import annotations

import numpy as np
from pipecat.audio.utils import create_file_resampler, pcm_to_ulaw, ulaw_to_pcm

LINE_RATE = 8000  # G.711 narrowband, what every carrier delivers


async def telephone(pcm: np.ndarray, sample_rate: int) -> np.ndarray:
    """int16 mono `pcm` as the bot receives it over a phone line: int16 at 8 kHz after a
    mu-law round trip (resampled first when `sample_rate` is not 8 kHz)."""
    resampler = create_file_resampler()
    ulaw = await pcm_to_ulaw(pcm.astype("<i2").tobytes(), sample_rate, LINE_RATE, resampler)
    decoded = await ulaw_to_pcm(ulaw, LINE_RATE, LINE_RATE, resampler)
    return np.frombuffer(decoded, dtype="<i2").copy()


def pad(pcm: np.ndarray, sample_rate: int, before: float, after: float) -> np.ndarray:
    """`pcm` with `before`/`after` seconds of line silence (digital zeros, as mu-law 0xFF
    decodes to), so the VAD has quiet to start from and to end the turn on."""
    head = np.zeros(round(before * sample_rate), dtype=np.int16)
    tail = np.zeros(round(after * sample_rate), dtype=np.int16)
    return np.concatenate([head, pcm.astype(np.int16), tail])

"""Raw 16-bit PCM over a WebSocket (FreeSWITCH mod_audio_stream and similar switches).

The protocol, as the server speaks it on /media/pcm:

- the first message is JSON text naming the call (read by the server before the pipeline
  starts; see `carrier.py`): `{"event": "start", "account": "EN-LATE-1", "sample_rate": 16000}`
- then each *binary* message is audio: signed 16-bit little-endian mono samples at that rate,
  any whole number of samples up to the server's frame limit (20 ms is usual);
- text messages after the start are JSON control events: `{"event": "dtmf", "digit": "5"}`,
  `{"event": "stop"}` (the caller hung up; the socket closes next); unknown events are ignored;
- the server sends the bot's audio back as binary PCM at the stream's rate, paced in real
  time, `{"event": "clear"}` when the caller barges in (drop what is queued for playback), and
  closes the socket with 1000 after the bot's last words.

Modelled on pipecat's TwilioFrameSerializer: conversion between the carrier's rate and the
pipeline's in both directions, interruptions as a control message.  Unlike pipecat's
serializers it raises StreamError on malformed input, so the server closes that stream
with a 4400-range code instead of silently dropping audio.
"""

from __future__ import annotations

import json

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import (
    AudioRawFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer

from telephony.carriers.errors import BAD_MEDIA, BAD_MESSAGE, StreamError, check_size, parse_event

STREAM_RATES = (8000, 16000)


class PcmFrameSerializer(FrameSerializer):
    """Binary frames are linear PCM at the stream's rate; text frames are JSON control events."""

    class InputParams(FrameSerializer.InputParams):
        """stream_sample_rate: the carrier's rate (8000 or 16000).
        sample_rate: the pipeline's rate, when it should differ from the pipeline setup's.
        max_frame_bytes: larger messages close the stream (4413)."""

        stream_sample_rate: int = 8000
        sample_rate: int | None = None
        max_frame_bytes: int = 64 * 1024

    def __init__(self, params: InputParams | None = None, **kwargs):
        params = params or PcmFrameSerializer.InputParams()
        if params.stream_sample_rate not in STREAM_RATES:
            raise ValueError(f"stream_sample_rate must be one of {STREAM_RATES}")
        super().__init__(params, **kwargs)
        self._params: PcmFrameSerializer.InputParams = params
        self._stream_rate = params.stream_sample_rate
        self._sample_rate = 0  # pipeline rate, known at setup
        self._input_resampler = create_stream_resampler(
            clear_after_secs=params.resampler_clear_after_secs)
        self._output_resampler = create_stream_resampler(
            clear_after_secs=params.resampler_clear_after_secs)

    async def setup(self, setup: FrameProcessorSetup):
        self._sample_rate = self._params.sample_rate or setup.audio_in_sample_rate

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, InterruptionFrame):
            return json.dumps({"event": "clear"})
        if isinstance(frame, AudioRawFrame):
            audio = frame.audio
            if frame.sample_rate != self._stream_rate:
                audio = await self._output_resampler.resample(audio, frame.sample_rate, self._stream_rate)
            return audio or None
        if isinstance(frame, (OutputTransportMessageFrame, OutputTransportMessageUrgentFrame)):
            return None if self.should_ignore_frame(frame) else json.dumps(frame.message)
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        check_size(data, self._params.max_frame_bytes)
        if isinstance(data, bytes):
            return await self._audio(data)
        message = parse_event(data)
        event = message["event"]
        if event == "dtmf":
            digit = message.get("digit")
            try:
                return InputDTMFFrame(KeypadEntry(digit))
            except ValueError:
                raise StreamError(BAD_MESSAGE, f"dtmf event with an invalid digit {digit!r}") from None
        if event == "start":
            raise StreamError(BAD_MESSAGE, "unexpected second 'start' event")
        return None  # stop (the socket closes next) and events this server does not use

    async def _audio(self, data: bytes) -> Frame | None:
        if len(data) % 2:
            raise StreamError(BAD_MEDIA, f"audio frame of {len(data)} bytes: 16-bit PCM needs an even "
                                         "number of bytes")
        if not data:
            return None
        audio = data
        if self._stream_rate != self._sample_rate:
            audio = await self._input_resampler.resample(data, self._stream_rate, self._sample_rate)
        if not audio:
            return None
        return InputAudioRawFrame(audio=audio, num_channels=1, sample_rate=self._sample_rate)

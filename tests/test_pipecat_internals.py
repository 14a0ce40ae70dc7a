"""The pipecat private members the engine relies on (voicebot/pipecat_internals.py) still exist on
the installed pipecat, with the types the adapter expects.  A pipecat upgrade that renames or
retypes one fails here, naming it, instead of a call going quietly wrong.

Real pipecat objects throughout: a webrtcvad analyzer, a VAD processor, a segmented recogniser
(its `run_stt` is the only stub: nothing is transcribed), a FastAPI WebSocket transport on a
socket that is never opened, the carriers' strict serializers."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import EndFrame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.services.tts_service import TTSService
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketClient,
    FastAPIWebsocketOutputTransport,
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from starlette.websockets import WebSocket

from telephony.carriers.plivo.serializer import StrictPlivoSerializer
from telephony.carriers.telnyx.serializer import StrictTelnyxSerializer
from telephony.carriers.twilio.serializer import StrictTwilioSerializer
from telephony.carriers.vonage.serializer import StrictVonageSerializer
from voicebot import pipecat_internals as internals
from voicebot.audio.vad.pause import PauseVADProcessor
from voicebot.audio.vad.webrtc import WebRTCVADAnalyzer

RATE = 8000


def calls(cls: type, caller: str, hook: str) -> bool:
    """Whether pipecat's `cls.caller` still calls `self.hook(`: an override of the hook is only
    worth anything while pipecat calls it."""
    return f"self.{hook}(" in inspect.getsource(getattr(cls, caller))


@pytest.fixture
def analyzer() -> WebRTCVADAnalyzer:
    vad = WebRTCVADAnalyzer()
    vad.set_sample_rate(RATE)
    return vad


class _Segmented(SegmentedSTTService):
    async def run_stt(self, audio: bytes):
        yield None


@pytest.fixture
def transport() -> FastAPIWebsocketTransport:
    socket = WebSocket({"type": "websocket", "headers": [], "path": "/media/test"}, receive=None, send=None)
    return FastAPIWebsocketTransport(socket, FastAPIWebsocketParams())


def test_the_vad_analyzer_state_machine(analyzer):
    assert isinstance(internals.vad_state(analyzer), VADState)
    assert isinstance(internals.stopping_frames(analyzer), int)
    assert isinstance(internals.analyze_inline(analyzer, bytes(2 * RATE // 50)), VADState)
    assert isinstance(internals.smooth_volume(analyzer, 0.5), float)
    assert calls(VADAnalyzer, "_run_analyzer", internals.VOLUME_HOOK)
    # the public reset PauseVADProcessor.end_turn uses instead of writing the counters
    analyzer._vad_state, analyzer._vad_stopping_count = VADState.STOPPING, 7
    analyzer.set_params(analyzer.params)
    assert (internals.vad_state(analyzer), internals.stopping_frames(analyzer)) == (VADState.QUIET, 0)


def test_an_analyzer_without_a_sample_rate_is_in_no_state():
    assert internals.vad_state(WebRTCVADAnalyzer()) is None
    assert internals.stopping_frames(WebRTCVADAnalyzer()) == 0


def test_the_vad_processor_controller(analyzer):
    processor = PauseVADProcessor(vad_analyzer=analyzer, pause_secs=0.1)
    processor._vad_controller._vad_state = VADState.SPEAKING
    internals.quiet_vad_controller(processor)
    assert processor._vad_controller._vad_state == VADState.QUIET


def test_the_segmented_recogniser():
    stt = _Segmented(trailing_silence_secs=0.25)
    assert isinstance(internals.segment_audio(stt), bytearray)
    assert internals.segment_padding_secs(stt) == 0.25
    assert isinstance(internals.segment_padding(stt), bytes)
    assert internals.user_speaking(stt) is False
    assert internals.user_id(stt) == ""


def test_the_service_hooks_we_override_are_still_called():
    for cls, hooks in internals.SERVICE_HOOKS.items():
        for hook in hooks:
            assert callable(getattr(cls, hook, None)), f"{cls.__name__}.{hook} is gone"
    assert calls(SegmentedSTTService, "process_frame", "_handle_user_stopped_speaking")


class _Tts(TTSService):
    async def run_tts(self, text: str, context_id: str):
        yield None


def test_the_tts_frame_stream():
    stream = TTSService._stream_audio_frames_from_iterator
    assert inspect.isasyncgenfunction(stream)
    assert {"in_sample_rate", "context_id"} <= set(inspect.signature(stream).parameters)

    async def nothing():
        return
        yield b""

    frames = internals.stream_audio_frames(_Tts(), nothing(), sample_rate=RATE, context_id="reply-1")
    assert inspect.isasyncgen(frames)
    asyncio.run(frames.aclose())


def test_smart_turn_features():
    assert callable(internals.whisper_log_mel_features())


def test_the_websocket_transport(transport):
    client = internals.websocket_client(transport)
    assert isinstance(client, FastAPIWebsocketClient) and not client.is_closing
    internals.mark_client_closing(client)
    assert client.is_closing  # pipecat's own property now says so: it will not close again

    output = transport.output()
    next_send, interval = internals.pacing_clock(output)
    assert isinstance(next_send, (int, float)) and isinstance(interval, (int, float))
    internals.set_next_send_time(output, 12.5)
    assert internals.pacing_clock(output)[0] == 12.5
    assert calls(FastAPIWebsocketOutputTransport, "write_audio_frame", internals.PACING_HOOK)
    assert calls(FastAPIWebsocketOutputTransport, "process_frame", "_write_frame")
    assert inspect.iscoroutinefunction(FastAPIWebsocketOutputTransport._write_frame)
    assert asyncio.run(internals.write_frame(output, EndFrame())) is False  # a closing socket takes nothing


def test_every_private_access_is_checked_here():
    """A new function in the adapter needs its check in this file."""
    source = inspect.getsource(inspect.getmodule(test_the_websocket_transport))
    names = [name for name, value in vars(internals).items()
             if inspect.isfunction(value) and value.__module__ == internals.__name__]
    unchecked = [name for name in names if f"internals.{name}(" not in source]
    assert not unchecked, f"no check for {unchecked}"


@pytest.mark.parametrize("make, carrier_rate_attr", [
    (lambda: StrictTwilioSerializer("MZ1", "CA1", max_frame_bytes=4096), "_twilio_sample_rate"),
    (lambda: StrictPlivoSerializer("st-1", "call-1", max_frame_bytes=4096), "_plivo_sample_rate"),
    (lambda: StrictTelnyxSerializer("st-1", "PCMU", "cc-1", max_frame_bytes=4096), "_telnyx_sample_rate"),
    (lambda: StrictVonageSerializer(16000, max_frame_bytes=4096), "_vonage_sample_rate"),
])
def test_carrier_serializers_read_the_rates_pipecat_reads(make, carrier_rate_attr):
    """Our strict serializers keep their own carrier and pipeline rates, made from pipecat's
    public parameters (telephony/carriers/carrier_input.py) instead of reading its private
    copies; here they are compared with those copies, so a pipecat that derives them another
    way fails this test."""
    serializer = make()
    setup = FrameProcessorSetup(clock=SystemClock(), task_manager=None, pipeline_worker=None,
                                audio_in_sample_rate=RATE)
    asyncio.run(serializer.setup(setup))
    assert serializer.carrier_rate == getattr(serializer, carrier_rate_attr)
    assert serializer.pipeline_rate == serializer._sample_rate == RATE

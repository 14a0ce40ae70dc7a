"""Every place the engine reaches into pipecat's private members, one function each.

pipecat (1.14) has no public way to do these things, and each is needed: keeping them here, and
nowhere else, makes the price of a pipecat upgrade one file to read, and
`tests/test_pipecat_internals.py` checks on the installed pipecat that each member still exists
with the type these functions expect, so an upgrade that breaks one fails that test loudly
instead of a call misbehaving.  Where pipecat has a public way (a service's `settings`, a
transport's `input()`/`output()`, an analyzer's `set_params`), callers use it instead.

At the bottom of `voicebot` (it imports only pipecat): audio, services and the server use it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from pipecat.audio.utils import exp_smoothing
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState
from pipecat.frames.frames import Frame
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.services.stt_service import SegmentedSTTService, STTService
from pipecat.services.tts_service import TTSService
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketClient,
    FastAPIWebsocketOutputTransport,
    FastAPIWebsocketTransport,
)

# -- VAD: the analyzer's state machine ------------------------------------------------------


def vad_state(analyzer: VADAnalyzer) -> VADState | None:
    """Where the analyzer's state machine is (QUIET, STARTING, SPEAKING, STOPPING); None before
    its sample rate is set.  pipecat reports only the transitions it acts on (speaking, quiet),
    but a pause inside a turn is the STOPPING state, and only the analyzer knows it."""
    return getattr(analyzer, "_vad_state", None)


def stopping_frames(analyzer: VADAnalyzer) -> int:
    """Analysis frames of silence counted so far in the STOPPING state: how long the debtor has
    been silent, which pipecat keeps to itself until `stop_secs` is reached."""
    return getattr(analyzer, "_vad_stopping_count", 0)


def analyze_inline(analyzer: VADAnalyzer, buffer: bytes) -> VADState:
    """The analyzer's synchronous step, run on the calling thread.  pipecat's public
    `analyze_audio` hands every buffer to a thread, which costs far more than webrtcvad's
    microseconds of work (voicebot/audio/vad/webrtc.py)."""
    return analyzer._run_analyzer(buffer)


#: the analyzer's loudness step, which pipecat's state machine (`_run_analyzer`) calls per
#: frame; webrtcvad's analyzer overrides it with a cheaper measure (voicebot/audio/vad/webrtc.py)
VOLUME_HOOK = "_get_smoothed_volume"


def smooth_volume(analyzer: VADAnalyzer, volume: float) -> float:
    """`volume` smoothed as pipecat smooths its own loudness (the previous value and factor it
    keeps), for an analyzer that measures loudness its own way."""
    return exp_smoothing(volume, analyzer._prev_volume, analyzer._smoothing_factor)


def quiet_vad_controller(processor: VADProcessor) -> None:
    """Put the VAD processor's controller back to QUIET, as if it had seen the VAD's stop: a
    turn ended early by the engine (`PauseVADProcessor.end_turn`) must not be stopped again
    by the controller when the analyzer's silence reaches `stop_secs`."""
    processor._vad_controller._vad_state = VADState.QUIET


# -- Recognisers -----------------------------------------------------------------------------


def segment_audio(stt: SegmentedSTTService) -> bytearray:
    """The audio a segmented recogniser has gathered for the turn so far: what a decode at a
    pause (before the VAD's stop) must read.  pipecat hands it over only at the stop."""
    return stt._audio_buffer


def segment_padding(stt: SegmentedSTTService) -> bytes:
    """The silence the recogniser appends to a segment before decoding it (so the model hears
    the speech end): a decode at a pause must hear the same ending as the final one."""
    return stt._trailing_silence()


def segment_padding_secs(stt: SegmentedSTTService) -> float:
    """How long that silence is: it changes the words decoded, so transcript caches key on it."""
    return stt._trailing_silence_secs


def user_speaking(stt: SegmentedSTTService) -> bool:
    """Whether the recogniser is inside a turn (between the VAD's start and stop): a pause
    outside one has nothing to decode."""
    return stt._user_speaking


def user_id(stt: STTService) -> str:
    """The user the recogniser attributes transcripts to (set from the pipeline's frames);
    pipecat's own services pass it into each TranscriptionFrame the same way."""
    return stt._user_id


#: hooks pipecat documents for service subclasses and ours override or call: applying a
#: settings update (`_update_settings`, `_warn_unhandled_updated_settings`), and a segmented
#: recogniser's reaction to the VAD's stop (`_handle_user_stopped_speaking`, where the
#: speculative decode at a pause is kept or dropped)
SERVICE_HOOKS = {
    STTService: ("_update_settings",),
    TTSService: ("_update_settings", "_warn_unhandled_updated_settings"),
    SegmentedSTTService: ("_handle_user_stopped_speaking",),
}


# -- Synthesis -------------------------------------------------------------------------------


def stream_audio_frames(tts: TTSService, pcm: AsyncIterator[bytes], *, sample_rate: int,
                        context_id: str) -> AsyncGenerator[Frame, None]:
    """pipecat's own way for a TTS service to turn PCM pieces into the audio frames of one
    reply (frame sizes, the reply's context id, start and stop frames), which its bundled
    services use and no public method offers."""
    return tts._stream_audio_frames_from_iterator(pcm, in_sample_rate=sample_rate, context_id=context_id)


def whisper_log_mel_features() -> Callable[..., Any]:
    """pipecat's log-mel front end for Smart Turn, from a private module: it is the exact
    preprocessing the model was published with (vendored from transformers'
    WhisperFeatureExtractor), so any other would change the model's verdicts."""
    from pipecat.audio.turn.smart_turn._whisper_features import compute_whisper_log_mel_features

    return compute_whisper_log_mel_features


# -- The FastAPI WebSocket transport ---------------------------------------------------------


def websocket_client(transport: FastAPIWebsocketTransport) -> FastAPIWebsocketClient:
    """The client wrapper pipecat built for the socket: our input and output must share it
    (its reference count decides when the socket closes), and pipecat builds it with its own
    private callbacks, so it cannot be made anew."""
    return transport._client


def mark_client_closing(client: FastAPIWebsocketClient) -> None:
    """Tell pipecat's client the socket is closing, so it neither sends more nor closes it a
    second time: the server closes it itself, with a carrier's code and reason, which
    `disconnect()` cannot give."""
    client._closing = True


async def write_frame(output: FastAPIWebsocketOutputTransport, frame: Frame) -> bool:
    """Serialize and send one frame now (the carrier's end mark before the socket closes);
    pipecat's public senders queue frames or pace audio."""
    return await output._write_frame(frame)


#: the method pipecat's WebSocket output awaits after each audio message to pace it in real
#: time; an output that sends ahead of playback overrides it (voicebot/server/transport.py)
PACING_HOOK = "_write_audio_sleep"


def pacing_clock(output: FastAPIWebsocketOutputTransport) -> tuple[float, float]:
    """(next send time on `time.monotonic()`, seconds per audio message): pipecat's pacing
    clock, which a barge-in resets to 0."""
    return output._next_send_time, output._send_interval


def set_next_send_time(output: FastAPIWebsocketOutputTransport, at: float) -> None:
    """Move pipecat's pacing clock to `at` (time.monotonic())."""
    output._next_send_time = at

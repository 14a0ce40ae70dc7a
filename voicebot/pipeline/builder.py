"""Assemble and run one call's pipeline; the same assembly serves every transport.

    transport.input → recorder(debtor) → VAD + turn end → ASR → dialogue → TTS → transport.output
        → recorder(bot)

Models are not loaded here: the ASR/TTS services passed in share process-wide models
(audio_models.loader), so a call costs only its own small state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.base_transport import BaseTransport
from pipecat.workers.runner import WorkerRunner

from dialogue.session import CallSession
from voicebot.audio.vad.pause import PauseVADProcessor
from voicebot.pipeline.amd_processor import AmdProcessor, AmdSetup
from voicebot.pipeline.dialogue_processor import DialogueProcessor
from voicebot.pipeline.handoff import Escalate
from voicebot.recording.call_record import CallRecorder
from voicebot.recording.stereo import StereoRecorder
from voicebot.recording.wav import GrowingWav


@dataclass
class CallParts:
    """What a call needs besides its transport: analyzer and services for its locale/voice."""

    vad: PauseVADProcessor  # VAD, pause announcement and end of turn (listening.call_turn_end)
    stt: FrameProcessor
    tts: FrameProcessor
    sample_rate: int
    extra_processors: list[FrameProcessor] = field(default_factory=list)


@dataclass
class BuiltCall:
    pipeline: Pipeline
    worker: PipelineWorker
    dialogue: DialogueProcessor
    recorder: CallRecorder
    audio: StereoRecorder


def build_call(transport: BaseTransport, session: CallSession, parts: CallParts,
               records_dir: Path, idle_timeout_s: float | None = 120.0,
               escalate: Escalate | None = None, amd: AmdSetup | None = None) -> BuiltCall:
    recorder = CallRecorder(records_dir, session)
    dialogue = DialogueProcessor(session, on_timing=recorder.on_timing, escalate=escalate,
                                 defer_opening=amd is not None)
    audio = StereoRecorder(GrowingWav(recorder.wav_path, parts.sample_rate, channels=2))
    pipeline = Pipeline([
        transport.input(),
        audio.user_tap(),  # the debtor's audio is recorded here and goes no further than ASR
        *([AmdProcessor(amd)] if amd is not None else []),  # who answered, before any script
        parts.vad,  # VAD + pauses (speculative ASR) + the end of the turn (Smart Turn or silence)
        parts.stt,
        dialogue,
        *parts.extra_processors,
        parts.tts,
        transport.output(),
        audio.bot_tap(),
    ])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=parts.sample_rate,
                              audio_out_sample_rate=parts.sample_rate, enable_metrics=True),
        idle_timeout_secs=idle_timeout_s,
        enable_rtvi=False,
        # The call record times turns itself (DialogueProcessor); pipecat's turn tracker would
        # be one more observer fed every frame at every processor (docs/performance.md).
        enable_turn_tracking=False,
    )
    return BuiltCall(pipeline, worker, dialogue, recorder, audio)


async def run_call(call: BuiltCall, extra: dict | None = None) -> dict:
    """Run until the dialogue ends the call (or the transport hangs up); return the summary."""
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(call.worker)
    try:
        await runner.run()
    finally:
        call.audio.close()
    if call.audio.failed:
        extra = {**(extra or {}), "recording_error": call.audio.failed}
    return call.recorder.finish(extra)

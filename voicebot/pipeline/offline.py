"""Run a few of a call's processors as a pipeline with no transport, for anything that feeds
them audio itself: the spoken evaluation (`voicebot.evaluation.recognise`), the end-of-turn
benchmark and its tests. One place that knows how to start a bare pipecat worker, wait until
it runs, and end it, so the three cannot drift apart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from pipecat.frames.frames import Frame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.workers.runner import WorkerRunner

START_TIMEOUT_S = 30.0  # a worker that has not started by then never will


async def run_offline(processors: Iterable[FrameProcessor], sample_rate: int,
                      feed: Callable[[PipelineWorker], Awaitable[None]]) -> None:
    """Run `processors` until `feed(worker)`, called once the pipeline has started, has queued
    an EndFrame and the pipeline has drained it (no idle timeout: `feed` decides the end).

    Raises:
        TimeoutError: the pipeline did not start within START_TIMEOUT_S.
    """
    worker = PipelineWorker(
        Pipeline(list(processors)),
        params=PipelineParams(audio_in_sample_rate=sample_rate, audio_out_sample_rate=sample_rate),
        idle_timeout_secs=None, cancel_on_idle_timeout=False, enable_rtvi=False,
        enable_turn_tracking=False, check_dangling_tasks=False,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker: PipelineWorker, _frame: Frame) -> None:
        started.set()

    async def fed() -> None:
        await asyncio.wait_for(started.wait(), START_TIMEOUT_S)
        await feed(worker)

    runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), fed())

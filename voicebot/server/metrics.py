"""The media-stream server's Prometheus metrics, and `/metrics`, which serves them.

Every metric of the engine and server is defined here, once, in prometheus-client's default
registry (the telephony layer's own, bus and campaign, are in `telephony/metrics.py` and show
on the same page).  Nothing is measured twice: the numbers are the ones the engine already
takes for its call records and `voicebot bench`, observed where they are produced:

- turn latency, processing and the transcript's wait: the DialogueProcessor's per-turn
  timings (`timing_listeners`, the same dict the call record's `timings` holds);
- ASR decode and TTS synthesis time: the per-inference events of `voicebot/services/
  stats_log.py` (the bench's RTF source), listened to from the end of the warm-up on;
- refusals by close code, calls in progress and ended: one line each in `app.py`;
- records-store writes given up: the store's `failure_listeners`.

Who may read it: the numbers carry no account, name or phone number, but they do tell call
volumes and outcomes, and the server's port faces carriers.  So `/metrics` answers only a
scraper that sends `Authorization: Bearer <metrics token>` (`VOICEBOT_METRICS_TOKEN`, kept
apart from the stream tokens so a Prometheus config cannot place calls); with no metrics token
set it is off (403 naming the setting).  See docs/operations.md.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

import telephony.metrics  # noqa: F401 - the bus's and campaign stores' counters, on the same page
from voicebot.server.settings import ServerSettings
from voicebot.services import stats_log

#: Around the 300 ms target for end of turn to first audio (docs/performance.md).
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0)
#: Turn latency adds the end-of-turn silence (0.12-1.2 s) to the processing.
LATENCY_BUCKETS = (0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0)

CALLS_IN_PROGRESS = Gauge("voicebot_calls_in_progress", "Calls running a pipeline now.")
CALLS_ENDED = Counter("voicebot_calls_ended", "Calls that ran and ended, by who ended them: bot, "
                      "carrier, line_dropped, timeout, protocol_error.", ["ended_by"])
STREAMS_REFUSED = Counter("voicebot_streams_refused", "Streams closed with an error code before "
                          "or instead of a call (voicebot/server/errors.py), by close code.", ["code"])
TURN_LATENCY = Histogram("voicebot_turn_latency_seconds", "Debtor's last sound to the bot's first "
                         "audio out: processing plus the end-of-turn silence (call record "
                         "`turn_latency_ms`).", buckets=LATENCY_BUCKETS)
TURN_PROCESSING = Histogram("voicebot_turn_processing_seconds", "End of turn (VAD stop) to the bot's "
                            "first audio out (call record `processing_ms`; bench `processing`).",
                            buckets=FAST_BUCKETS)
TURN_ASR_WAIT = Histogram("voicebot_turn_asr_wait_seconds", "End of turn to the transcript (call "
                          "record `asr_ms`; bench 'end-of-turn to transcript').", buckets=FAST_BUCKETS)
ASR_DECODE = Histogram("voicebot_asr_decode_seconds", "Time to decode one utterance (Whisper).",
                       buckets=FAST_BUCKETS)
ASR_AUDIO = Counter("voicebot_asr_audio_seconds", "Seconds of speech decoded: RTF = "
                    "rate(voicebot_asr_decode_seconds_sum) / rate(this).")
TTS_SYNTHESIS = Histogram("voicebot_tts_synthesis_seconds", "Time to synthesise one piece of the "
                          "bot's speech (prompt-cache hits are not synthesised).", buckets=FAST_BUCKETS)
TTS_AUDIO = Counter("voicebot_tts_audio_seconds", "Seconds of speech synthesised: RTF = "
                    "rate(voicebot_tts_synthesis_seconds_sum) / rate(this).")
RECORDS_WRITE_FAILURES = Counter("voicebot_records_write_failures", "Writes to the records database "
                                 "given up (the call's JSONL file keeps them).")
DRAINING = Gauge("voicebot_draining", "1 once SIGTERM asked the server to drain: new streams "
                 "refused, live calls finishing.")


def observe_turn(_index: int, timings: dict[str, float]) -> None:
    """A DialogueProcessor timing listener: one turn's timings, as the call record keeps them."""
    if "processing_ms" in timings:
        TURN_PROCESSING.observe(timings["processing_ms"] / 1000)
    if "turn_latency_ms" in timings:
        TURN_LATENCY.observe(timings["turn_latency_ms"] / 1000)
    if "asr_ms" in timings:
        TURN_ASR_WAIT.observe(timings["asr_ms"] / 1000)


def observe_inference(kind: str, fields: dict[str, Any]) -> None:
    """A stats_log listener: ASR and TTS inference times, as the bench reads them."""
    if kind == "asr":
        ASR_DECODE.observe(fields["processing_s"])
        ASR_AUDIO.inc(fields["audio_s"])
    elif kind == "tts":
        TTS_SYNTHESIS.observe(fields["synth_s"])
        TTS_AUDIO.inc(fields["audio_s"])


def refused(code: int) -> None:
    STREAMS_REFUSED.labels(code=str(code)).inc()


def call_ended(summary: dict[str, Any]) -> None:
    CALLS_ENDED.labels(ended_by=str(summary.get("ended_by") or "unknown")).inc()


def listen_to_inferences() -> None:
    """From now on, ASR and TTS inferences are observed (after the warm-up: not calls')."""
    if observe_inference not in stats_log.listeners:
        stats_log.listeners.append(observe_inference)


def _write_failed(_error: str) -> None:
    RECORDS_WRITE_FAILURES.inc()


def mount_metrics(app: FastAPI, settings: ServerSettings) -> None:
    """Serve `/metrics` (bearer metrics token) and count the records store's failed writes."""
    store = getattr(app.state, "records", None)
    if store is not None:
        store.failure_listeners.append(_write_failed)
    token = settings.metrics_token.get_secret_value().strip() if settings.metrics_token else ""
    expected = token.encode() or None  # an empty token is no token: off, never open

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if expected is None:
            return Response("metrics are off: set VOICEBOT_METRICS_TOKEN (serve --metrics-token) and "
                            "scrape with Authorization: Bearer <token>\n", status_code=403,
                            media_type="text/plain")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return Response("a metrics token is required: Authorization: Bearer <token>\n",
                            status_code=401, media_type="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

"""Smart Turn v3: does the audio so far sound like the end of the debtor's turn?

pipecat 1.14 ships the model (`smart-turn-v3.2-cpu.onnx`, ~8 MB, a Whisper-tiny encoder with a
classifier head, int8) inside its package, with `LocalSmartTurnAnalyzerV3` around it. That
analyzer is built for one stream per object: its own onnxruntime session (load ~0.1 s and its
arenas per call), its own thread, audio time-stamped with the wall clock (so a simulation run
faster than real time cuts the wrong segment). A call server wants the opposite: one session
per process shared by every call, run on the process's inference threads, fed the turn's audio
by the caller. So this module keeps only the model and pipecat's preprocessing, unchanged:

    int16 PCM at the line rate -> float32 -> soxr HQ to 16 kHz -> the last 8 s, zero-padded at
    the front -> Whisper log-mel (pipecat's numpy port, normalised) -> session -> P(complete)

(`tests/test_turn_end.py` checks the probability equals the analyzer's own `_predict_endpoint`.)

Cost on this 2-core Xeon, one intra-op thread: ~70 ms CPU per inference (the input is always
8 s) plus ~20-30 ms for the features; ask once per pause, never per frame.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import soxr

from voicebot import pipecat_internals

MODEL_RATE = 16000        # the model reads 16 kHz (the line's 8 kHz is resampled)
WINDOW_SECS = 8           # and exactly the last 8 s, zero-padded at the front
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
MODEL_PACKAGE = "pipecat.audio.turn.smart_turn.data"


def bundled_model_path() -> Path:
    """The CPU model inside the installed pipecat package (nothing is downloaded)."""
    return Path(str(resources.files(MODEL_PACKAGE).joinpath(MODEL_FILE)))


@dataclass(frozen=True)
class TurnVerdict:
    """One inference: the probability that the turn is complete, and what it cost."""

    probability: float
    audio_secs: float       # turn audio the model was given (at most WINDOW_SECS)
    processing_secs: float  # wall time of the inference on its thread
    cpu_secs: float         # that thread's CPU time


class SmartTurnModel:
    """The shared session. `verdict` is thread-safe (onnxruntime sessions may run concurrently)
    and blocking: call it on an inference thread, never on the event loop. The session loads
    on the first inference (~0.1 s), on that thread: building a call's pipeline, on the event
    loop, costs nothing."""

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1):
        self._features = pipecat_internals.whisper_log_mel_features()
        self.path = Path(model_path) if model_path else bundled_model_path()
        if not self.path.is_file():
            raise FileNotFoundError(f"Smart Turn model not found at {self.path} (pipecat-ai 1.14 ships it)")
        self._threads = threads
        self._loaded = None
        self._load_lock = threading.Lock()
        self._warm = False

    @property
    def _session(self):
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    import onnxruntime

                    options = onnxruntime.SessionOptions()
                    # As Piper's sessions (audio_models/loader.py): one intra-op thread, no
                    # spinning; calls run inferences side by side on the executor's threads.
                    options.intra_op_num_threads = self._threads
                    options.inter_op_num_threads = 1
                    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
                    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
                    self._loaded = onnxruntime.InferenceSession(
                        str(self.path), sess_options=options, providers=["CPUExecutionProvider"])
        return self._loaded

    def probability(self, pcm: np.ndarray, sample_rate: int) -> float:
        """P(turn complete) for int16 mono `pcm` at `sample_rate` (the turn so far, its trailing
        silence included, as pipecat's analyzer hands it over)."""
        audio = pcm.astype(np.float32) / 32768.0
        if sample_rate != MODEL_RATE:
            audio = soxr.resample(audio, sample_rate, MODEL_RATE, quality="HQ").astype(np.float32)
        window = WINDOW_SECS * MODEL_RATE
        if len(audio) > window:
            audio = audio[-window:]
        elif len(audio) < window:
            audio = np.pad(audio, (window - len(audio), 0))
        features = self._features(audio, do_normalize=True)[np.newaxis]
        (logits,) = self._session.run(None, {"input_features": features})
        return float(np.asarray(logits).reshape(-1)[0])  # the model's output is already a sigmoid

    @property
    def warm(self) -> bool:
        return self._warm

    def warm_up(self) -> None:
        """Load the session and run it once (the first run costs ~0.3 CPU-s of set-up), so
        that no debtor's turn waits for it. Blocking, like `verdict`."""
        self.probability(np.zeros(MODEL_RATE // 2, np.int16), MODEL_RATE)
        self._warm = True

    def verdict(self, pcm: np.ndarray, sample_rate: int) -> TurnVerdict:
        """`probability`, timed (wall and this thread's CPU)."""
        started, cpu = time.perf_counter(), time.thread_time()
        probability = self.probability(pcm, sample_rate)
        return TurnVerdict(probability, min(len(pcm) / sample_rate, WINDOW_SECS),
                           time.perf_counter() - started, time.thread_time() - cpu)


_shared: SmartTurnModel | None = None
_lock = threading.Lock()


def shared_smart_turn() -> SmartTurnModel:
    """The process-wide model every call shares (its session loads on the first inference)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = SmartTurnModel()
        return _shared

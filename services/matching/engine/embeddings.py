"""Sentence embeddings of a profile's public phrases, and how they are stored.

A profile is embedded phrase by phrase (each need, each offer, each competence and
technology) plus one vector for the whole of what it is (description, competences,
technologies), so complementarity can be judged need against offer and explained with
the two phrases that met. The encoder is anything with `name`, `dim` and `encode`; the
one shipped is the multilingual Universal Sentence Encoder (`encoders.py`), and a
deployment swaps it by giving the index another encoder: vectors of another model name
are never mixed in (they are recomputed).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from .documents import Profile

FloatArray = npt.NDArray[np.float32]
# Stored as float16: half the bytes, and cosines move by < 1e-3 (far below what ranks).
STORED_DTYPE = np.float16
EMBEDDED_FIELDS: tuple[str, ...] = ("about", "needs", "offers")


class Encoder(Protocol):
    """Text → L2-normalised vectors; `name` identifies the model (and its version)."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> FloatArray: ...


def about_phrases(p: Profile) -> list[str]:
    """What the cluster is and can do, phrase by phrase (competences, technologies)."""
    return [*p.competences, *p.technologies]


def profile_text(p: Profile) -> str:
    return p.profile_text()


@dataclass(frozen=True, slots=True)
class ProfileVectors:
    """One profile's embeddings: `profile` (dim,), and per field one row per phrase in
    the profile's order (about = competences then technologies)."""

    model: str
    version: int
    profile: FloatArray
    about: FloatArray
    needs: FloatArray
    offers: FloatArray

    def field(self, name: str) -> FloatArray:
        if name not in EMBEDDED_FIELDS:
            raise ValueError(f"not an embedded field: {name}")
        out: FloatArray = getattr(self, name)
        return out

    def fits(self, p: Profile, model: str) -> bool:
        """Vectors of this model for this version of the profile (a stored row may be
        stale: the projection can be rewritten without the model, see replace_all)."""
        return (
            self.model == model
            and self.version == p.version
            and self.about.shape[0] == len(about_phrases(p))
            and self.needs.shape[0] == len(p.needs)
            and self.offers.shape[0] == len(p.offers)
        )

    def to_bytes(self) -> dict[str, bytes]:
        """Per part, its float16 bytes (row-major); shapes follow from the profile."""
        parts = {"profile": self.profile, **{f: self.field(f) for f in EMBEDDED_FIELDS}}
        return {k: np.ascontiguousarray(v, dtype=STORED_DTYPE).tobytes() for k, v in parts.items()}

    @classmethod
    def from_bytes(
        cls, model: str, version: int, dim: int, parts: dict[str, bytes]
    ) -> ProfileVectors:
        def load(name: str) -> FloatArray:
            raw = np.frombuffer(parts[name], dtype=STORED_DTYPE)
            if raw.size % dim:
                raise ValueError(f"stored {name} vectors are not multiples of {dim}")
            return np.asarray(raw.reshape(-1, dim), dtype=np.float32)

        profile = load("profile")
        if profile.shape[0] != 1:
            raise ValueError("stored profile vector must be one row")
        return cls(model, version, profile[0], load("about"), load("needs"), load("offers"))


def _normalise(m: FloatArray) -> FloatArray:
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return np.asarray(np.divide(m, np.maximum(norms, 1e-12)), dtype=np.float32)


def embed_profiles(encoder: Encoder, profiles: Sequence[Profile]) -> list[ProfileVectors]:
    """Embeddings of several profiles, with one encoder call for all their phrases."""
    texts: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    for p in profiles:
        start = len(texts)
        texts.append(profile_text(p) or p.name)
        texts.extend(about_phrases(p))
        a_end = len(texts)
        texts.extend(p.needs)
        n_end = len(texts)
        texts.extend(p.offers)
        spans.append((start, a_end, n_end, len(texts)))
    vectors = _normalise(np.asarray(encoder.encode(texts), dtype=np.float32))
    out = []
    for p, (start, a_end, n_end, o_end) in zip(profiles, spans, strict=True):
        out.append(
            ProfileVectors(
                model=encoder.name,
                version=p.version,
                profile=np.asarray(vectors[start], dtype=np.float32),
                about=np.asarray(vectors[start + 1 : a_end], dtype=np.float32),
                needs=np.asarray(vectors[a_end:n_end], dtype=np.float32),
                offers=np.asarray(vectors[n_end:o_end], dtype=np.float32),
            )
        )
    return out


class CachedEncoder:
    """An encoder with a bounded cache per text: short phrases repeat across clusters
    ("machine learning"), and the projection and the live index embed the same profile
    one after the other. Counts what it really encoded, so tests can see reuse."""

    def __init__(self, inner: Encoder, max_entries: int = 20_000) -> None:
        self.inner = inner
        self.max_entries = max_entries
        self._cache: OrderedDict[str, FloatArray] = OrderedDict()
        self._lock = threading.Lock()
        self.calls = 0
        self.texts_encoded = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def preload(self, texts: Sequence[str], vectors: FloatArray) -> None:
        """Fill the cache with vectors computed earlier by the same model (benchmarks)."""
        with self._lock:
            for t, v in zip(texts, vectors, strict=True):
                self._cache[t] = np.asarray(v, dtype=np.float32)

    def cached(self) -> tuple[list[str], FloatArray]:
        with self._lock:
            texts = list(self._cache)
            return texts, np.asarray([self._cache[t] for t in texts], dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> FloatArray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            fresh = _normalise(np.asarray(self.inner.encode(missing), dtype=np.float32))
            with self._lock:
                self.calls += 1
                self.texts_encoded += len(missing)
                for t, v in zip(missing, fresh, strict=True):
                    self._cache[t] = v
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            for i, t in enumerate(texts):
                v = self._cache.get(t)
                if v is None:  # evicted by a concurrent call: encode it alone
                    v = _normalise(np.asarray(self.inner.encode([t]), dtype=np.float32))[0]
                self._cache[t] = v
                self._cache.move_to_end(t)
                out[i] = v
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return out

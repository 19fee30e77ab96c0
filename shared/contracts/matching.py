"""The matching service's request-reply API on the bus, and its facts."""

from __future__ import annotations

import uuid

from pydantic import Field

from shared.contracts.base import Payload

STREAM = "MATCHING"
SUBJECTS = ("matching.feedback.>",)
FEEDBACK_RECORDED = "matching.feedback.recorded"

SUGGEST = "matching.suggest"  # request-reply, in a queue group
SUGGEST_QUEUE = "matching"
MAX_SUGGEST_IDS = 2000


class SuggestRequest(Payload):
    cluster_ids: list[str] = Field(max_length=MAX_SUGGEST_IDS)
    limit: int = Field(default=20, ge=1, le=200)


class SuggestedPair(Payload):
    a: str
    b: str
    score: float
    a_to_b: float = 0.0
    b_to_a: float = 0.0
    reasons: list[str] = Field(default_factory=list)


class SuggestReply(Payload):
    pairs: list[SuggestedPair] = Field(default_factory=list)
    unknown: list[str] = Field(default_factory=list)
    error: str | None = None


class FeedbackRecorded(Payload):
    cluster_id: uuid.UUID
    other_id: uuid.UUID
    relevant: bool
    mode: str
    rank: int | None = None

"""Suggested partners among an event's participants, asked of the matching service.

NATS request-reply on `matching.suggest`. The matching service is optional: when no
one answers (or too slowly, or with nonsense) the answer is an empty list marked
`available: false`, never an error.
"""

from __future__ import annotations

import uuid

import structlog
from nats.aio.client import Client as NATS

from services.events.schemas import SuggestedPairOut, SuggestionsOut
from shared.contracts.matching import SUGGEST, SuggestReply, SuggestRequest
from shared.telemetry.propagation import context_headers

TIMEOUT_SECONDS = 1.0

_log = structlog.get_logger("suggestions")


async def suggest(
    nc: NATS | None, cluster_ids: list[uuid.UUID], limit: int, *, subject: str = SUGGEST
) -> SuggestionsOut:
    known = {str(c) for c in cluster_ids}
    if nc is None or len(known) < 2:
        return SuggestionsOut(available=nc is not None, pairs=[])
    request = SuggestRequest(cluster_ids=sorted(known), limit=limit)
    try:
        reply = await nc.request(
            subject,
            request.model_dump_json().encode(),
            timeout=TIMEOUT_SECONDS,
            # The responder answers under this request's id and trace.
            headers=context_headers() or None,
        )
        answer = SuggestReply.model_validate_json(reply.data)
    except Exception as exc:  # no responders, a timeout, a reply off the contract: degrade
        _log.info("matching.suggest unavailable", error=repr(exc))
        return SuggestionsOut(available=False, pairs=[])
    if answer.error is not None:
        _log.info("matching.suggest refused", error=answer.error)
        return SuggestionsOut(available=False, pairs=[])
    # Only pairs of this event's participants, whatever the other side sent.
    pairs = [
        SuggestedPairOut(a=uuid.UUID(p.a), b=uuid.UUID(p.b), score=p.score, reasons=p.reasons)
        for p in answer.pairs
        if p.a in known and p.b in known and p.a != p.b
    ]
    return SuggestionsOut(available=True, pairs=pairs[:limit])

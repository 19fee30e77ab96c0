"""Suggested partners among an event's participants, asked of the matching service.

NATS request-reply on `matching.suggest`. The matching service is optional: when no
one answers (or too slowly, or with nonsense) the answer is an empty list marked
`available: false`, never an error.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import structlog
from nats.aio.client import Client as NATS

SUBJECT = "matching.suggest"
TIMEOUT_SECONDS = 1.0

_log = structlog.get_logger("suggestions")


async def suggest(
    nc: NATS | None, cluster_ids: list[uuid.UUID], limit: int, *, subject: str = SUBJECT
) -> dict[str, Any]:
    known = {str(c) for c in cluster_ids}
    if nc is None or len(known) < 2:
        return {"available": nc is not None, "pairs": []}
    request = orjson.dumps({"cluster_ids": sorted(known), "limit": limit})
    try:
        reply = await nc.request(subject, request, timeout=TIMEOUT_SECONDS)
        body = orjson.loads(reply.data)
        pairs = [
            {
                "a": str(p["a"]),
                "b": str(p["b"]),
                "score": float(p["score"]),
                "reasons": [str(x) for x in p.get("reasons", [])],
            }
            for p in body["pairs"]
        ]
    except Exception as exc:  # no responders, timeout, malformed reply: degrade, never 500
        _log.info("matching.suggest unavailable", error=repr(exc))
        return {"available": False, "pairs": []}
    # Only pairs of this event's participants, whatever the other side sent.
    pairs = [p for p in pairs if p["a"] in known and p["b"] in known and p["a"] != p["b"]]
    return {"available": True, "pairs": pairs[:limit]}

"""`matching.suggest` over NATS request-reply, in a queue group so replicas share it.

Request: `{"cluster_ids": [...], "limit": N}`. Reply: `{"pairs": [{"a", "b", "score",
"reasons": [text, ...]}], "unknown": [ids the index does not know]}` or `{"error": ...}`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry.trace import SpanKind

from services.matching.engine.errors import InvalidQuery
from services.matching.engine.index import MatchIndex
from services.matching.engine.suggest import suggest_pairs
from shared.contracts.matching import MAX_SUGGEST_IDS, SUGGEST, SUGGEST_QUEUE
from shared.requestid import request_id_bound
from shared.telemetry.propagation import REQUEST_ID_HEADER, extract_from
from shared.telemetry.telemetry import OFF, Telemetry

_log = structlog.get_logger("matching.responder")

SUBJECT = SUGGEST
QUEUE = SUGGEST_QUEUE
MAX_IDS = MAX_SUGGEST_IDS


def answer(index: MatchIndex, request: Any) -> dict[str, Any]:
    if not isinstance(request, dict) or not isinstance(request.get("cluster_ids"), list):
        return {"error": 'send {"cluster_ids": [...], "limit": N}'}
    ids = [str(i) for i in request["cluster_ids"]][:MAX_IDS]
    limit = request.get("limit", 20)
    known = [i for i in ids if i in index]
    unknown = [i for i in ids if i not in index]
    try:
        pairs = suggest_pairs(index, known, limit=limit if isinstance(limit, int) else 20)
    except InvalidQuery as exc:
        return {"error": str(exc)}
    return {
        "pairs": [
            {
                "a": p.a,
                "b": p.b,
                "score": p.score,
                "a_to_b": p.a_to_b,
                "b_to_a": p.b_to_a,
                "reasons": p.explanation,
            }
            for p in pairs
        ],
        "unknown": unknown,
    }


async def serve_suggestions(
    nc: NATS, index: MatchIndex, telemetry: Telemetry = OFF
) -> Subscription:
    async def handle(msg: Msg) -> None:
        headers = msg.headers or {}
        with (
            request_id_bound(headers.get(REQUEST_ID_HEADER)),
            telemetry.span(
                f"process {SUBJECT}",
                SpanKind.SERVER,
                parent=extract_from(headers),
                attributes={"messaging.system": "nats", "messaging.destination.name": SUBJECT},
            ),
        ):
            await _respond(msg, index)

    return await nc.subscribe(SUBJECT, queue=QUEUE, cb=handle)


async def _respond(msg: Msg, index: MatchIndex) -> None:
    try:
        request = orjson.loads(msg.data)
    except orjson.JSONDecodeError:
        await msg.respond(orjson.dumps({"error": "request is not JSON"}))
        return
    # Scoring an event's participants can take a while: keep the loop responsive.
    reply = await asyncio.to_thread(answer, index, request)
    await msg.respond(orjson.dumps(reply))

"""Route: clusters that could strengthen a strategic partnership (the registry keeps
partnerships; the coverage scoring is the consortium builder's, here)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from services.matching.api.routes import READ, live, off_loop, summary
from services.matching.deps import MatchingDep
from services.matching.engine.strengthen import Candidate, strengthen
from services.matching.registry_client import fetch_partnership
from services.matching.schemas import CoverageOut, StrengthenCandidate, StrengthenOut
from shared.problems import Problem, not_found
from shared.routing import api_router

router = api_router(prefix="/v1/matching", tags=["matching"])


@router.get(
    "/partnerships/{partnership_id}/candidates",
    response_model=StrengthenOut,
    dependencies=[READ],
)
async def partnership_candidates(
    partnership_id: uuid.UUID,
    rt: MatchingDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> StrengthenOut:
    """Clusters that cover the partnership's shared competences better than its members
    (invited and accepted) do, best first, with what each would add; a country the
    partnership lacks counts a little more."""
    registry_url = rt.settings.registry_url
    if not registry_url:
        raise Problem(409, "REGISTRY_URL is not configured for the matching service.")
    index = live(rt)
    try:
        p = await fetch_partnership(registry_url, rt.settings.internal_token, str(partnership_id))
    except Exception as exc:
        raise Problem(503, "The registry could not be read.", headers={"Retry-After": "2"}) from exc
    if p is None:
        raise not_found("partnership")
    competences = [str(c) for c in p.get("competences", [])]
    if not competences:
        raise Problem(
            422, "The partnership names no shared competences to strengthen.", field="competences"
        )
    members = [str(m["cluster_id"]) for m in p.get("members", []) if m.get("status") != "declined"]

    def run() -> list[Candidate]:
        return strengthen(index.index, members, competences, limit=limit)

    found = await off_loop(run)
    return StrengthenOut(
        partnership_id=str(partnership_id),
        competences=competences,
        candidates=[
            StrengthenCandidate(
                partner=summary(index.index.get(c.cluster_id)),
                score=c.score,
                gain=c.gain,
                new_country=c.new_country,
                improves=list(c.improves),
                coverage=[
                    CoverageOut(
                        competence=cov.competence,
                        covered=cov.covered,
                        score=cov.score,
                        member_id=cov.member_id,
                        field=cov.field,
                        phrase=cov.phrase,
                    )
                    for cov in c.coverage
                ],
            )
            for c in found
        ],
    )

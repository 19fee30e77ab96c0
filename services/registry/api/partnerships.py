"""Routes: strategic cluster partnerships, their members' consent, joint strategy,
activities, the public directory and partnership search. Thin: the work is in
services.registry.partnerships and partnership_search."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Query, Response

from services.registry import partnership_search, partnerships
from services.registry.api.scopes import READ, WRITE
from services.registry.deps import RegistryDep
from services.registry.repository import ClusterRepository, PartnershipRepository
from services.registry.schemas import (
    ActivityIn,
    ActivityList,
    ActivityOut,
    InviteIn,
    PartnershipCreate,
    PartnershipMatches,
    PartnershipOut,
    PartnershipPage,
    PartnershipPatch,
    StrategyHistory,
    StrategyIn,
    StrategyOut,
)
from shared.identity import CallerDep
from shared.problems import REQUIRED_HEADER, not_found
from shared.routing import api_router
from shared.runtime import SessionDep
from shared.validation import CountryCode

router = api_router(prefix="/v1/partnerships", tags=["partnerships"])

IfMatch = Annotated[
    str | None,
    Header(
        description="The strategy's ETag you read (or `*`): an edit made since then is "
        "refused with 412. Without it: 428.",
        json_schema_extra=REQUIRED_HEADER,
    ),
]


def _json(model: PartnershipOut | StrategyOut, status: int = 200, **headers: str) -> Response:
    return Response(
        model.model_dump_json(), status_code=status, media_type="application/json", headers=headers
    )


@router.post(
    "",
    status_code=201,
    response_model=PartnershipOut,
    dependencies=[WRITE],
    responses={422: {"description": "fewer countries than required, unknown clusters"}},
)
async def create_partnership(
    body: PartnershipCreate, caller: CallerDep, session: SessionDep, rt: RegistryDep
) -> Response:
    """Create a partnership led by a cluster you manage, from a consortium suggestion
    (`consortium`) or from scratch (`members`). Every other cluster is invited and joins
    only when its own manager accepts."""
    p = await partnerships.create(session, caller, body, rt.settings.partnership_min_countries)
    out = await partnerships.view(session, p)
    return _json(out, 201, Location=f"/v1/partnerships/{p.id}")


@router.get("", response_model=PartnershipPage, dependencies=[READ])
async def list_partnerships(
    session: SessionDep,
    cluster_id: uuid.UUID | None = None,
    market: CountryCode | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    formed: bool | None = None,
    country: CountryCode | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> PartnershipPage:
    """The public directory of partnerships of every tenant, oldest first; filters: a
    member `cluster_id`, a target `market`, words `q` in name, field or competences,
    `formed` (members of enough countries accepted), a member `country` (invited or
    accepted)."""
    rows, next_cursor = await PartnershipRepository(session).page(
        limit,
        cursor,
        cluster_id=cluster_id,
        market=market,
        text_query=q or None,
        formed=formed,
        country=country,
    )
    return PartnershipPage(items=await partnerships.views(session, rows), next_cursor=next_cursor)


@router.get("/search", response_model=PartnershipMatches, dependencies=[READ])
async def search_partnerships(
    cluster_id: uuid.UUID,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> PartnershipMatches:
    """Partnerships that match a cluster's needs: what it needs against their shared
    competences and field, what it offers them, and the markets it targets; with the
    reasons. Partnerships it is already in are left out."""
    cluster = await ClusterRepository(session).get(cluster_id)
    if cluster is None:
        raise not_found("cluster")
    found = await partnership_search.for_cluster(session, cluster, limit)
    return PartnershipMatches(cluster_id=cluster_id, items=found)


@router.get("/{partnership_id:uuid}", response_model=PartnershipOut, dependencies=[READ])
async def get_partnership(partnership_id: uuid.UUID, session: SessionDep) -> PartnershipOut:
    """A partnership's public page: members and their answers, markets, competences,
    whether it is formed."""
    return await partnerships.view(session, await partnerships.load(session, partnership_id))


@router.patch("/{partnership_id:uuid}", response_model=PartnershipOut, dependencies=[WRITE])
async def patch_partnership(
    partnership_id: uuid.UUID, body: PartnershipPatch, caller: CallerDep, session: SessionDep
) -> PartnershipOut:
    """The lead changes name, field, description, target markets or competences."""
    p = await partnerships.load(session, partnership_id)
    await partnerships.patch(session, caller, p, body)
    return await partnerships.view(session, p)


@router.post(
    "/{partnership_id:uuid}/members",
    status_code=201,
    response_model=PartnershipOut,
    dependencies=[WRITE],
)
async def invite_member(
    partnership_id: uuid.UUID, body: InviteIn, caller: CallerDep, session: SessionDep
) -> PartnershipOut:
    """The lead invites one more cluster; it joins when its own manager accepts."""
    p = await partnerships.load(session, partnership_id)
    await partnerships.invite(session, caller, p, body.cluster_id)
    return await partnerships.view(session, p)


@router.post(
    "/{partnership_id:uuid}/members/{cluster_id:uuid}/accept",
    response_model=PartnershipOut,
    dependencies=[WRITE],
)
async def accept_invitation(
    partnership_id: uuid.UUID, cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> PartnershipOut:
    """The invited cluster's own manager joins the partnership."""
    p = await partnerships.load(session, partnership_id)
    await partnerships.answer(session, caller, p, cluster_id, accept=True)
    return await partnerships.view(session, p)


@router.post(
    "/{partnership_id:uuid}/members/{cluster_id:uuid}/decline",
    response_model=PartnershipOut,
    dependencies=[WRITE],
)
async def decline_invitation(
    partnership_id: uuid.UUID, cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> PartnershipOut:
    """The invited cluster's own manager declines (no reason asked)."""
    p = await partnerships.load(session, partnership_id)
    await partnerships.answer(session, caller, p, cluster_id, accept=False)
    return await partnerships.view(session, p)


@router.get("/{partnership_id:uuid}/strategy", response_model=StrategyOut, dependencies=[READ])
async def get_strategy(partnership_id: uuid.UUID, session: SessionDep) -> Response:
    """The current joint strategy (version 0: none yet); its ETag guards edits."""
    p = await partnerships.load(session, partnership_id)
    out = partnerships.strategy_out(p, await PartnershipRepository(session).strategy(p.id))
    return _json(out, ETag=partnerships.strategy_etag(p, out.version))


@router.put(
    "/{partnership_id:uuid}/strategy",
    response_model=StrategyOut,
    dependencies=[WRITE],
    responses={
        412: {"description": "the strategy changed since you read it"},
        428: {"description": "If-Match missing"},
    },
)
async def edit_strategy(
    partnership_id: uuid.UUID,
    body: StrategyIn,
    caller: CallerDep,
    session: SessionDep,
    if_match: IfMatch = None,
) -> Response:
    """A new version of the joint strategy, by the manager of an accepted member."""
    p = await partnerships.load(session, partnership_id)
    row = await partnerships.edit_strategy(session, caller, p, body.text, body.cluster_id, if_match)
    out = partnerships.strategy_out(p, row)
    return _json(out, ETag=partnerships.strategy_etag(p, row.version))


@router.get(
    "/{partnership_id:uuid}/strategy/versions",
    response_model=StrategyHistory,
    dependencies=[READ],
)
async def strategy_history(partnership_id: uuid.UUID, session: SessionDep) -> StrategyHistory:
    """Every version of the joint strategy, newest first."""
    p = await partnerships.load(session, partnership_id)
    rows = await PartnershipRepository(session).history(p.id)
    return StrategyHistory(items=[partnerships.strategy_out(p, r) for r in rows])


@router.post(
    "/{partnership_id:uuid}/activities",
    status_code=201,
    response_model=ActivityOut,
    dependencies=[WRITE],
)
async def add_activity(
    partnership_id: uuid.UUID, body: ActivityIn, caller: CallerDep, session: SessionDep
) -> ActivityOut:
    """A mission, event or call with its dates, by the manager of an accepted member; an
    event names the matchmaking event (events service id) held under the partnership."""
    p = await partnerships.load(session, partnership_id)
    return partnerships.activity_out(await partnerships.add_activity(session, caller, p, body))


@router.get("/{partnership_id:uuid}/activities", response_model=ActivityList, dependencies=[READ])
async def list_activities(partnership_id: uuid.UUID, session: SessionDep) -> ActivityList:
    p = await partnerships.load(session, partnership_id)
    rows = await PartnershipRepository(session).activities(p.id)
    return ActivityList(items=[partnerships.activity_out(a) for a in rows])

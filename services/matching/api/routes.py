"""Matching routes: partners for a cluster, free-text search, feedback, consortia."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Query

from services.matching import messaging
from services.matching.deps import MatchingDep, MatchingRuntime
from services.matching.engine.consortium import Consortium, build_consortia
from services.matching.engine.documents import Profile
from services.matching.engine.errors import EmptyQuery, InvalidQuery, UnknownCluster
from services.matching.engine.explain import Reason
from services.matching.engine.filters import Filters
from services.matching.engine.index import Match
from services.matching.live_index import LiveIndex
from services.matching.models import Feedback
from services.matching.projection import replace_all
from services.matching.registry_client import fetch_all_profiles
from services.matching.repository import FeedbackRepository
from services.matching.schemas import (
    ConsortiaOut,
    ConsortiumIn,
    ConsortiumOut,
    CoverageOut,
    FeedbackIn,
    FeedbackOut,
    FilterIn,
    MatchesOut,
    MatchOut,
    PartnerSummary,
    PrecisionOut,
    PrecisionRow,
    ReasonOut,
    SearchIn,
    SearchOut,
)
from shared.identity import Caller, CallerDep, require_scope
from shared.problems import Problem
from shared.routing import api_router
from shared.runtime import SessionDep
from shared.taxonomy import ECOSYSTEMS, LabelLevel
from shared.validation import CountryCode

router = api_router(prefix="/v1/matching", tags=["matching"])
T = TypeVar("T")

READ = require_scope("matching:read")
FEEDBACK = require_scope("matching:feedback")
ADMIN = require_scope("admin")


def live(rt: MatchingRuntime) -> LiveIndex:
    index = rt.state.index
    if not index.freshness.ready:
        raise Problem(
            503,
            "The match index is still being built; retry in a moment.",
            headers={"Retry-After": "2"},
        )
    return index


async def off_loop(fn: Callable[[], T]) -> T:
    """Run index work in a thread (it holds the GIL little: numpy/scipy), mapping its
    errors to problems."""
    try:
        return await asyncio.to_thread(fn)
    except UnknownCluster as exc:
        raise Problem(404, "No such cluster in the match index.", field="cluster_id") from exc
    except InvalidQuery as exc:
        raise Problem(422, str(exc)) from exc


def summary(p: Profile) -> PartnerSummary:
    return PartnerSummary(
        id=p.id,
        name=p.name,
        tenant=p.tenant,
        country=p.country_code,
        city=p.city,
        ecosystems=list(p.ecosystems),
        label=p.label_on(datetime.now(UTC).date()).value,
    )


def reason_out(r: Reason) -> ReasonOut:
    return ReasonOut(
        component=r.component,
        text=r.text,
        your_field=r.your_field,
        your_text=r.your_text,
        their_field=r.their_field,
        their_text=r.their_text,
        shared_terms=list(r.shared_terms),
        score=round(r.score, 4),
    )


def match_out(index: LiveIndex, rank: int, m: Match) -> MatchOut:
    return MatchOut(
        rank=rank,
        partner=summary(index.index.get(m.cluster_id)),
        score=round(m.score, 4),
        components={k: round(v, 4) for k, v in m.components.items()},
        reasons=[reason_out(r) for r in m.reasons],
    )


def filters_from(
    f: FilterIn | None = None,
    *,
    countries: Sequence[str] = (),
    tenants: Sequence[str] = (),
    ecosystems: Sequence[str] = (),
    min_label: LabelLevel = LabelLevel.NONE,
    verified_only: bool = False,
    exclude_own_country: bool = True,
) -> Filters:
    if f is not None:
        countries, tenants, ecosystems = f.countries, f.tenants, f.ecosystems
        min_label, verified_only = f.min_label, f.verified_only
    unknown = [e for e in ecosystems if e.lower() not in ECOSYSTEMS]
    if unknown:
        raise Problem(422, f"Unknown ecosystem '{unknown[0]}'.", field="ecosystem")
    try:
        return Filters.make(
            countries=countries,
            tenants=tenants,
            ecosystems=ecosystems,
            min_label=min_label,
            verified_only=verified_only,
            exclude_own_country=exclude_own_country,
        )
    except InvalidQuery as exc:
        raise Problem(422, str(exc)) from exc


def hints_for(p: Profile) -> list[str]:
    """What the owner could add so the profile finds (and is found by) better partners."""
    hints = []
    if not p.needs:
        hints.append("Add what your cluster needs: complementary partners are found by it.")
    if not p.offers:
        hints.append("Add what your cluster offers, so others who need it can find you.")
    if len(p.competences) + len(p.technologies) < 3:
        hints.append("List at least three competences or technologies.")
    if not p.ecosystems:
        hints.append("Choose the industrial ecosystems you work in.")
    if len(p.description) < 200:
        hints.append("A description of a few sentences helps partners understand you.")
    return hints


@router.get("/clusters/{cluster_id}/matches", response_model=MatchesOut, dependencies=[READ])
async def matches_for_cluster(
    cluster_id: uuid.UUID,
    rt: MatchingDep,
    mode: Annotated[str, Query(pattern="^(complementary|similar|balanced)$")] = "balanced",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    country: Annotated[list[CountryCode], Query(max_length=50)] = [],  # noqa: B006
    tenant: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    ecosystem: Annotated[list[str], Query(max_length=14)] = [],  # noqa: B006
    min_label: LabelLevel = LabelLevel.NONE,
    verified_only: bool = False,
    include_own_country: bool = False,
    explain: bool = True,
) -> MatchesOut:
    """Partners for a cluster, best first, each with the reasons it was chosen.

    `complementary` ranks trading partners (your needs against their offers, and back),
    `similar` ranks peers with the same competences, `balanced` mixes both. Clusters of
    your own country are left out unless `include_own_country=true`.
    """
    index = live(rt)
    f = filters_from(
        countries=country,
        tenants=tenant,
        ecosystems=ecosystem,
        min_label=min_label,
        verified_only=verified_only,
        exclude_own_country=not include_own_country,
    )
    found = await off_loop(
        lambda: index.index.matches(
            str(cluster_id), mode=mode, limit=limit, filters=f, explain=explain
        )
    )
    me = index.index.get(str(cluster_id))
    return MatchesOut(
        cluster_id=str(cluster_id),
        mode=mode,
        matches=[match_out(index, i + 1, m) for i, m in enumerate(found)],
        hints=hints_for(me),
    )


async def _search(rt: MatchingRuntime, body: SearchIn) -> SearchOut:
    index = live(rt)
    f = filters_from(body.filters, exclude_own_country=False)
    try:
        found = await off_loop(lambda: index.index.search(body.text, limit=body.limit, filters=f))
    except Problem as exc:
        exc.field = exc.field or "text"
        raise
    return SearchOut(
        query=body.text, results=[match_out(index, i + 1, m) for i, m in enumerate(found)]
    )


@router.get("/search", response_model=SearchOut, dependencies=[READ])
async def search_get(
    rt: MatchingDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    country: Annotated[list[CountryCode], Query(max_length=50)] = [],  # noqa: B006
    ecosystem: Annotated[list[str], Query(max_length=14)] = [],  # noqa: B006
    min_label: LabelLevel = LabelLevel.NONE,
) -> SearchOut:
    """Free text, e.g. "battery recycling partners in Korea" (country names filter)."""
    try:
        body = SearchIn(
            text=q,
            limit=limit,
            filters=FilterIn(countries=country, ecosystems=ecosystem, min_label=min_label),
        )
    except ValueError as exc:
        raise Problem(422, "q must be plain text.", field="q") from exc
    return await _search(rt, body)


@router.post("/search", response_model=SearchOut, dependencies=[READ])
async def search_post(body: SearchIn, rt: MatchingDep) -> SearchOut:
    """The same search with a JSON body, for long queries and structured filters."""
    return await _search(rt, body)


def _own_cluster(index: LiveIndex, caller: Caller, cluster_id: uuid.UUID) -> Profile:
    try:
        p = index.index.get(str(cluster_id))
    except UnknownCluster as exc:
        raise Problem(404, "No such cluster.", field="cluster_id") from exc
    if not caller.acts_for_cluster(p.tenant, cluster_id):
        # Feedback speaks for the asking cluster: only whoever speaks for it may give it.
        raise Problem(
            403,
            "Feedback is given by the cluster's own tenant (or its manager).",
            field="cluster_id",
            slug="tenant-forbidden",
        )
    return p


@router.post("/feedback", response_model=FeedbackOut, status_code=201, dependencies=[FEEDBACK])
async def give_feedback(
    body: FeedbackIn, caller: CallerDep, rt: MatchingDep, session: SessionDep
) -> FeedbackOut:
    """Say whether a suggested partner was relevant; a new judgement replaces the old."""
    index = live(rt)
    mine = _own_cluster(index, caller, body.cluster_id)
    if str(body.other_id) not in index.index or body.other_id == body.cluster_id:
        raise Problem(404, "No such partner.", field="other_id")
    feedback_id = await FeedbackRepository(session).upsert(
        tenant=mine.tenant,
        client_id=caller.client_id,
        cluster_id=body.cluster_id,
        other_id=body.other_id,
        relevant=body.relevant,
        mode=body.mode,
        rank=body.rank,
    )
    messaging.feedback_recorded(
        session, mine.tenant, body.cluster_id, body.other_id, body.relevant, body.mode, body.rank
    )
    return FeedbackOut(
        id=feedback_id,
        cluster_id=body.cluster_id,
        other_id=body.other_id,
        relevant=body.relevant,
        mode=body.mode,
        rank=body.rank,
    )


def _row(items: list[Feedback]) -> PrecisionRow:
    relevant = sum(1 for f in items if f.relevant)
    return PrecisionRow(
        judged=len(items),
        relevant=relevant,
        precision=round(relevant / len(items), 4) if items else None,
    )


@router.get("/feedback/precision", response_model=PrecisionOut, dependencies=[READ])
async def precision_report(caller: CallerDep, session: SessionDep) -> PrecisionOut:
    """Share of suggested partners judged relevant, from your tenant's feedback (the
    operator sees everyone's)."""
    rows = list(await FeedbackRepository(session).visible())
    modes = sorted({f.mode for f in rows})
    return PrecisionOut(
        scope="all tenants" if caller.is_admin else f"tenant {caller.tenant}",
        overall=_row(rows),
        by_mode={m: _row([f for f in rows if f.mode == m]) for m in modes},
        at_10=_row([f for f in rows if f.rank is not None and f.rank <= 10]),
    )


def consortium_out(index: LiveIndex, c: Consortium, wanted: int) -> ConsortiumOut:
    return ConsortiumOut(
        members=[summary(index.index.get(m)) for m in c.members],
        countries=list(c.countries),
        covered=c.covered,
        wanted=wanted,
        score=round(c.score, 4),
        coverage=[
            CoverageOut(
                competence=cov.competence,
                covered=cov.covered,
                score=round(cov.score, 4),
                member_id=cov.member_id,
                field=cov.field,
                phrase=cov.phrase,
            )
            for cov in c.coverage
        ],
    )


@router.post("/consortia", response_model=ConsortiaOut, dependencies=[READ])
async def propose_consortia(body: ConsortiumIn, rt: MatchingDep) -> ConsortiaOut:
    """Partnership builder: consortia of 3 to 5 clusters from at least 3 countries that
    together cover the competences you want, best first, with who covers what."""
    if body.min_members > body.max_members:
        raise Problem(422, "min_members must not exceed max_members.", field="min_members")
    if body.min_countries > body.max_members:
        raise Problem(422, "min_countries must not exceed max_members.", field="min_countries")
    index = live(rt)
    f = filters_from(body.filters, exclude_own_country=False)

    def run() -> list[Consortium]:
        try:
            return build_consortia(
                index.index,
                str(body.cluster_id),
                body.competences,
                limit=body.limit,
                min_members=body.min_members,
                max_members=body.max_members,
                min_countries=body.min_countries,
                filters=f,
            )
        except EmptyQuery as exc:
            raise InvalidQuery(str(exc)) from exc

    found = await off_loop(run)
    return ConsortiaOut(
        cluster_id=str(body.cluster_id),
        consortia=[consortium_out(index, c, len(body.competences)) for c in found],
    )


@router.get("/status", dependencies=[READ])
async def index_status(rt: MatchingDep) -> dict[str, object]:
    """How big and how fresh the match index is."""
    index = rt.state.index
    return {"ready": index.freshness.ready, **index.describe()}


@router.post("/rebuild", dependencies=[ADMIN])
async def rebuild_from_registry(rt: MatchingDep) -> dict[str, object]:
    """Re-read every public profile from the registry, make the projection equal to it
    and rebuild the index (operator only; for recovery or after a stream was lost)."""
    registry_url = rt.settings.registry_url
    if not registry_url:
        raise Problem(409, "REGISTRY_URL is not configured for the matching service.")
    index = rt.state.index
    try:
        profiles = await fetch_all_profiles(registry_url, rt.settings.internal_token)
    except Exception as exc:
        raise Problem(503, "The registry could not be read.") from exc
    async with rt.sessionmaker() as s, s.begin():
        removed = await replace_all(s, profiles)
    count = await index.load()
    return {"profiles": count, "read_from_registry": len(profiles), "removed": removed}

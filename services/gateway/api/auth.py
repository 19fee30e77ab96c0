"""Routes: signing in and out, accepting an invitation, resetting a password.

The pages call these for people; they are public (no credential) except signing out.
A sign-in answers a session id, which the web app keeps in an HttpOnly cookie and
sends back as `Authorization: Session <id>`.
"""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from services.gateway import people, sessions
from services.gateway.deps import GatewayDep, SignedInDep
from services.gateway.models import Person
from services.gateway.ratelimit import RateLimiter
from services.gateway.schemas import (
    InvitationInfo,
    InvitationToken,
    PersonOut,
    ResetRequest,
    ResetRequested,
    SetPassword,
    SignedIn,
    SignIn,
)
from shared.db.session import ANY_TENANT
from shared.problems import Problem
from shared.routing import api_router
from shared.runtime import transaction

router = api_router(prefix="/v1/auth", tags=["people"])

# Public routes: a budget per client address on top of the per-account slow-down.
_PER_ADDRESS = RateLimiter(default_rate=5, default_burst=20)


def _limit(request: Request) -> None:
    address = request.client.host if request.client else "unknown"
    decision = _PER_ADDRESS.check(uuid.uuid5(uuid.NAMESPACE_URL, f"auth:{address}"))
    if not decision.allowed:
        raise Problem(
            429,
            "Too many attempts from your address; wait a moment.",
            slug="rate-limited",
            headers={"Retry-After": str(decision.retry_after)},
        )


def _out(person: Person) -> PersonOut:
    return PersonOut.model_validate(person, from_attributes=True)


@router.post("/sign-in", response_model=SignedIn, status_code=201)
async def sign_in(body: SignIn, request: Request, rt: GatewayDep) -> SignedIn:
    """A session for a correct e-mail and password. Failed tries slow down, and after a
    few in a row the account is locked for a while (429 with Retry-After)."""
    _limit(request)
    async with transaction(rt, ANY_TENANT) as s:
        outcome = await sessions.sign_in(
            s, rt.state.policy, body.email, body.password, request.headers.get("user-agent")
        )
    if isinstance(outcome, Problem):
        raise outcome  # after the commit: the failure counts
    return SignedIn(
        session_id=outcome.session_id,
        expires_at=outcome.row.expires_at,
        idle_minutes=int(rt.state.policy.idle.total_seconds() // 60),
        person=_out(outcome.person),
    )


@router.post("/sign-out", status_code=204)
async def sign_out(who: SignedInDep, rt: GatewayDep) -> Response:
    """End this session."""
    principal, session_id = who
    async with transaction(rt, ANY_TENANT) as s:
        await sessions.sign_out(s, session_id, principal.id)
    rt.state.proxy.sessions.evict(key=sessions.digest(session_id))
    return Response(status_code=204)


@router.post("/sign-out-everywhere", status_code=204)
async def sign_out_everywhere(who: SignedInDep, rt: GatewayDep) -> Response:
    """End every session of this person, on every device."""
    principal, _ = who
    async with transaction(rt, ANY_TENANT) as s:
        await sessions.sign_out_everywhere(s, principal.id)
    rt.state.proxy.sessions.evict(person_id=principal.id)
    return Response(status_code=204)


@router.post("/invitations/inspect", response_model=InvitationInfo)
async def inspect_invitation(
    body: InvitationToken, request: Request, rt: GatewayDep
) -> InvitationInfo:
    """Who an invitation is for, so the page can greet them (the link is not used up)."""
    _limit(request)
    async with transaction(rt, ANY_TENANT) as s:
        person = await people.inspect_invitation(s, body.token)
    return InvitationInfo(
        email=person.email, name=person.name, tenant=person.tenant, roles=person.roles
    )


@router.post("/invitations/accept", response_model=PersonOut)
async def accept_invitation(body: SetPassword, request: Request, rt: GatewayDep) -> PersonOut:
    """Choose a password with the invitation's link (once; it expires)."""
    _limit(request)
    async with transaction(rt, ANY_TENANT) as s:
        person = await people.accept_invitation(s, body.token, body.password)
    return _out(person)


@router.post("/password-resets", status_code=202, response_model=ResetRequested)
async def request_password_reset(
    body: ResetRequest, request: Request, rt: GatewayDep
) -> ResetRequested:
    """Mail a reset link to this address if it has an account (the answer is the same
    either way, so it tells nobody who has one)."""
    _limit(request)
    async with transaction(rt, ANY_TENANT) as s:
        await people.request_reset(s, rt.state.links, body.email)
    rt.state.mail.wake()
    return ResetRequested(
        detail="If this address has an account, a link to choose a new password is on its way."
    )


@router.post("/password-resets/complete", response_model=PersonOut)
async def complete_password_reset(body: SetPassword, request: Request, rt: GatewayDep) -> PersonOut:
    """Choose a new password with the reset link; every session of the account ends."""
    _limit(request)
    async with transaction(rt, ANY_TENANT) as s:
        person = await people.complete_reset(s, body.token, body.password)
    rt.state.proxy.sessions.evict(person_id=person.id)
    return _out(person)

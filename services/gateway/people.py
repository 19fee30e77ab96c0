"""People of a tenant: invitations, roles, deactivation, and password resets.

An agency admin (or the operator) invites a person by e-mail with their roles; the
mail carries a one-time link that lets them choose a password, and expires. A
password reset works the same way. Links are random 256-bit tokens of which only a
SHA-256 is stored, used once. Deactivating someone ends their sessions at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway import passwords
from services.gateway.mail import queue_mail
from services.gateway.models import Person, PersonToken
from services.gateway.principals import Principal
from services.gateway.repository import PeopleRepository
from shared.identity import AGENCY_ADMIN, CLUSTER_MANAGER, ROLES
from shared.problems import Problem

INVITATION = "invitation"
RESET = "reset"
INVITED = "invited"
ACTIVE = "active"
DEACTIVATED = "deactivated"


@dataclass(frozen=True)
class Links:
    """How mail links are made and how long they last (from the gateway's settings)."""

    public_url: str
    invitation_days: int
    reset_minutes: int

    def url(self, page: str, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/{page}?token={token}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_roles(roles: list[str], clusters: list[uuid.UUID]) -> None:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise Problem(422, f"Unknown role(s): {', '.join(unknown)}.", field="roles")
    if not roles:
        raise Problem(422, "Give the person at least one role.", field="roles")
    if CLUSTER_MANAGER in roles and not clusters and AGENCY_ADMIN not in roles:
        raise Problem(
            422, "A cluster manager manages at least one named cluster.", field="clusters"
        )


def require_people_admin(actor: Principal, tenant: str) -> None:
    """The operator anywhere; an agency admin in their own tenant."""
    if "admin" in actor.scopes:
        return
    if not actor.is_person or AGENCY_ADMIN not in actor.roles or actor.tenant != tenant:
        raise Problem(
            403, "Only an agency admin of this tenant manages its people.", slug="not-people-admin"
        )


def _new_token(repo: PeopleRepository, person: Person, purpose: str, lifetime: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    repo.add(
        PersonToken(
            digest=_digest(token),
            person_id=person.id,
            purpose=purpose,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


def _invitation_mail(person: Person, link: str, days: int, tenant_name: str) -> tuple[str, str]:
    subject = f"You are invited to Clusterbridge ({tenant_name})"
    body = (
        f"Hello {person.name},\n\n"
        f"you have been invited to Clusterbridge for {tenant_name}, as "
        f"{', '.join(person.roles)}.\n\n"
        f"Choose your password here (the link works once, for {days} days):\n{link}\n\n"
        "If you did not expect this, ignore this message.\n"
    )
    return subject, body


async def invite(
    session: AsyncSession,
    links: Links,
    actor: Principal | None,
    *,
    tenant: str,
    tenant_name: str,
    email: str,
    name: str,
    roles: list[str],
    clusters: list[uuid.UUID],
) -> tuple[Person, str]:
    """A new person, invited; returns them and the invitation link (sent by mail too)."""
    if actor is not None:
        require_people_admin(actor, tenant)
    check_roles(roles, clusters)
    repo = PeopleRepository(session)
    address = normalise_email(email)
    if await repo.by_email(address) is not None:
        raise Problem(409, "Someone with this e-mail address has an account.", field="email")
    person = Person(
        id=uuid.uuid4(),
        tenant=tenant,
        email=address,
        name=name,
        roles=sorted(set(roles)),
        clusters=sorted(set(clusters)),
        status=INVITED,
        failed_sign_ins=0,
        invited_by=actor.id if actor is not None else None,
        created_at=datetime.now(UTC),
    )
    repo.add(person)
    await session.flush()
    link = links.url(
        "accept-invitation",
        _new_token(repo, person, INVITATION, timedelta(days=links.invitation_days)),
    )
    queue_mail(
        session, address, *_invitation_mail(person, link, links.invitation_days, tenant_name)
    )
    return person, link


async def resend_invitation(
    session: AsyncSession, links: Links, actor: Principal, person: Person, tenant_name: str
) -> str:
    require_people_admin(actor, person.tenant)
    if person.status != INVITED:
        raise Problem(409, "This person has accepted the invitation already.", slug="not-invited")
    repo = PeopleRepository(session)
    await repo.retire_tokens(person.id, INVITATION, datetime.now(UTC))
    link = links.url(
        "accept-invitation",
        _new_token(repo, person, INVITATION, timedelta(days=links.invitation_days)),
    )
    queue_mail(
        session, person.email, *_invitation_mail(person, link, links.invitation_days, tenant_name)
    )
    return link


async def _use_token(session: AsyncSession, token: str, purpose: str) -> tuple[PersonToken, Person]:
    repo = PeopleRepository(session)
    row = await repo.token(_digest(token), purpose)
    what = "invitation" if purpose == INVITATION else "password reset link"
    if row is None:
        raise Problem(404, f"This {what} is not valid.", field="token", slug="bad-link")
    if row.used_at is not None:
        raise Problem(
            410, f"This {what} was used already; ask for a new one.", field="token",
            slug="link-used",
        )  # fmt: skip
    if row.expires_at <= datetime.now(UTC):
        raise Problem(
            410, f"This {what} has expired; ask for a new one.", field="token",
            slug="link-expired",
        )  # fmt: skip
    person = await repo.get(row.person_id, lock=True)
    if person is None or person.status == DEACTIVATED:
        raise Problem(410, "This account is no longer active.", field="token", slug="deactivated")
    return row, person


async def inspect_invitation(session: AsyncSession, token: str) -> Person:
    """Who an invitation is for (the page shows it before the password is chosen)."""
    _, person = await _use_token(session, token, INVITATION)
    return person


async def _set_password(person: Person, password: str) -> None:
    why = passwords.weakness(password, person.email, person.name)
    if why is not None:
        raise Problem(422, why, field="password", slug="weak-password")
    person.password_hash = await passwords.hash_password(password)
    person.failed_sign_ins = 0
    person.locked_until = None


async def accept_invitation(session: AsyncSession, token: str, password: str) -> Person:
    row, person = await _use_token(session, token, INVITATION)
    await _set_password(person, password)
    person.status = ACTIVE
    row.used_at = datetime.now(UTC)
    return person


async def request_reset(session: AsyncSession, links: Links, email: str) -> None:
    """Mail a reset link if the address has an active account; say nothing either way."""
    repo = PeopleRepository(session)
    person = await repo.by_email(normalise_email(email), lock=True)
    if person is None or person.status != ACTIVE:
        return
    await repo.retire_tokens(person.id, RESET, datetime.now(UTC))
    link = links.url(
        "reset-password", _new_token(repo, person, RESET, timedelta(minutes=links.reset_minutes))
    )
    queue_mail(
        session,
        person.email,
        "Reset your Clusterbridge password",
        f"Hello {person.name},\n\nchoose a new password here (the link works once, for "
        f"{links.reset_minutes} minutes):\n{link}\n\n"
        "If you did not ask for this, ignore this message: your password stays as it is.\n",
    )


async def complete_reset(session: AsyncSession, token: str, password: str) -> Person:
    row, person = await _use_token(session, token, RESET)
    await _set_password(person, password)
    row.used_at = datetime.now(UTC)
    # A new password ends every session: whoever knew the old one is signed out.
    await PeopleRepository(session).revoke_sessions(person.id, datetime.now(UTC))
    return person


async def change(
    session: AsyncSession,
    actor: Principal,
    person: Person,
    *,
    name: str | None,
    roles: list[str] | None,
    clusters: list[uuid.UUID] | None,
) -> None:
    require_people_admin(actor, person.tenant)
    new_roles = sorted(set(roles)) if roles is not None else person.roles
    new_clusters = sorted(set(clusters)) if clusters is not None else person.clusters
    check_roles(new_roles, new_clusters)
    if person.id == actor.id and AGENCY_ADMIN in person.roles and AGENCY_ADMIN not in new_roles:
        raise Problem(
            409, "You cannot take the agency-admin role from yourself.", field="roles",
            slug="own-role",
        )  # fmt: skip
    if name is not None:
        person.name = name
    person.roles = new_roles
    person.clusters = new_clusters


async def set_active(session: AsyncSession, actor: Principal, person: Person, active: bool) -> None:
    require_people_admin(actor, person.tenant)
    if person.id == actor.id and not active:
        raise Problem(409, "You cannot deactivate yourself.", slug="own-account")
    if not active:
        person.status = DEACTIVATED
        await PeopleRepository(session).revoke_sessions(person.id, datetime.now(UTC))
    elif person.status == DEACTIVATED:
        person.status = ACTIVE if person.password_hash else INVITED

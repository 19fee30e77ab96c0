"""Webhooks: a tenant's subscriptions (subscribe, rotate the secret, pause, resume,
replay a delivery) and the fan-out of bus facts into deliveries.

Who may: an API key with `webhooks:manage`, an agency admin, or the operator, each for
their own tenant; a subscription hears only the event types its tenant may see and
whose scope the subscriber holds. Another tenant's subscription does not exist for them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway import webhook_events
from services.gateway.models import WebhookDelivery, WebhookSubscription
from services.gateway.principals import WEBHOOKS_MANAGE, Principal
from services.gateway.repository import WebhookRepository
from services.gateway.webhook_signing import new_secret
from shared.contracts import events
from shared.identity import ADMIN_SCOPE
from shared.messaging.envelope import Envelope
from shared.problems import Problem

ACTIVE = "active"
PAUSED = "paused"
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


def require_manager(principal: Principal) -> None:
    if WEBHOOKS_MANAGE in principal.scopes or ADMIN_SCOPE in principal.scopes:
        return
    raise Problem(
        403,
        "Managing webhooks needs an API key with the webhooks:manage scope, or an agency admin.",
        slug="insufficient-scope",
    )


def may_hear(principal: Principal, event_type: str) -> bool:
    kind = webhook_events.BY_NAME.get(event_type)
    return kind is not None and (ADMIN_SCOPE in principal.scopes or kind.scope in principal.scopes)


def check_event_types(principal: Principal, event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(webhook_events.BY_NAME))
    if unknown:
        raise Problem(
            422,
            f"Unknown event types: {', '.join(unknown)} (see GET /v1/webhooks/event-types).",
            field="event_types",
        )
    refused = sorted(t for t in set(event_types) if not may_hear(principal, t))
    if refused:
        raise Problem(
            403,
            f"This credential may not hear: {', '.join(refused)} (a scope is missing).",
            field="event_types",
            slug="insufficient-scope",
        )
    return sorted(set(event_types))


def subscribe(
    session: AsyncSession,
    principal: Principal,
    url: str,
    event_types: list[str],
    description: str | None,
) -> WebhookSubscription:
    """A new subscription of the caller's tenant; its secret is shown once, now."""
    sub = WebhookSubscription(
        id=uuid.uuid4(),
        tenant=principal.tenant,
        url=url,
        description=description,
        event_types=check_event_types(principal, event_types),
        secret=new_secret(),
        status=ACTIVE,
        created_by=principal.id,
        created_at=datetime.now(UTC),
    )
    WebhookRepository(session).add(sub)
    return sub


def change(
    sub: WebhookSubscription,
    principal: Principal,
    url: str | None,
    event_types: list[str] | None,
    description: str | None,
) -> None:
    """A new URL, event types or description; deliveries already queued keep going to
    the subscription (to its new URL), and the secret stays."""
    if url is not None:
        sub.url = url
    if event_types is not None:
        sub.event_types = check_event_types(principal, event_types)
    if description is not None:
        sub.description = description


async def owned(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID, *, lock: bool = False
) -> WebhookSubscription:
    sub = await WebhookRepository(session).subscription(
        subscription_id, principal.tenant, lock=lock
    )
    if sub is None:
        raise Problem(404, "No such webhook subscription.", slug="not-found")
    return sub


def rotate_secret(sub: WebhookSubscription, overlap: timedelta) -> str:
    """A new secret; the old one keeps signing (a second signature) for `overlap`."""
    now = datetime.now(UTC)
    if overlap > timedelta(0):
        sub.previous_secret, sub.previous_secret_until = sub.secret, now + overlap
    else:
        sub.previous_secret = sub.previous_secret_until = None
    sub.secret = new_secret()
    return sub.secret


def pause(sub: WebhookSubscription, reason: str) -> None:
    sub.status, sub.paused_reason, sub.paused_at = PAUSED, reason, datetime.now(UTC)


async def resume(session: AsyncSession, sub: WebhookSubscription) -> None:
    """Active again: every delivery that waited goes out now, in order."""
    sub.status, sub.paused_reason, sub.paused_at = ACTIVE, None, None
    await WebhookRepository(session).reschedule_pending(sub.id, datetime.now(UTC))


def replay(
    session: AsyncSession, sub: WebhookSubscription, original: WebhookDelivery
) -> WebhookDelivery:
    """The same event once more (same webhook-id, fresh timestamp and signature), behind
    whatever of its subject is still waiting."""
    now = datetime.now(UTC)
    again = WebhookDelivery(
        id=uuid.uuid4(),
        subscription_id=sub.id,
        tenant=sub.tenant,
        event_id=original.event_id,
        event_type=original.event_type,
        subject=original.subject,
        payload=original.payload,
        state=PENDING,
        attempts=0,
        next_attempt_at=now,
        replay_of=original.replay_of or original.id,
        created_at=now,
    )
    WebhookRepository(session).add(again)
    return again


async def fan_out(session: AsyncSession, envelope: Envelope) -> int:
    """A bus fact into one delivery per subscription that may hear it (in the
    consumer's transaction, with its inbox claim); returns how many."""
    repo = WebhookRepository(session)
    if envelope.type in webhook_events.PARTICIPANT_SUBJECTS:
        fact = envelope.payload(events.ParticipantFact)
        await repo.set_event_tenant(
            fact.event_id, fact.tenant, envelope.type != events.PARTICIPANT_DECLINED
        )
        return 0
    found = await webhook_events.recipients(envelope, repo.event_tenants)
    now = datetime.now(UTC)
    made = 0
    for recipient in found:
        payload = webhook_events.body(envelope, recipient.event_type)
        for sub in await repo.subscribers(recipient.tenant, recipient.event_type):
            await repo.add_delivery(
                {
                    "id": uuid.uuid4(),
                    "subscription_id": sub.id,
                    "tenant": sub.tenant,
                    "event_id": envelope.id,
                    "event_type": recipient.event_type,
                    "subject": recipient.subject,
                    "payload": payload,
                    "state": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
            made += 1
    return made

"""Routes: a tenant's webhook subscriptions, their deliveries and attempts, replay.

POSTs honour `Idempotency-Key`: the key is claimed in the transaction that writes, so
a retry replays the first answer (a subscription's secret included) and never creates
a second subscription or replay.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway import webhook_events, webhooks
from services.gateway.deps import GatewayDep, GatewayRuntime, WebhookManagerDep
from services.gateway.idempotency import (
    MAX_KEY_LENGTH,
    Stored,
    claim_in,
    keep_in,
    request_fingerprint,
)
from services.gateway.models import WebhookDelivery, WebhookSubscription
from services.gateway.principals import Principal
from services.gateway.repository import WebhookRepository
from services.gateway.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    EventTypeOut,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookPatch,
    WebhookPause,
)
from services.gateway.webhook_targets import TargetRefused, check_target
from shared.problems import Problem
from shared.routing import api_router
from shared.runtime import transaction

router = api_router(prefix="/v1/webhooks", tags=["webhooks"])

_JSON = [(b"content-type", b"application/json")]


def present(sub: WebhookSubscription) -> WebhookOut:
    return WebhookOut.model_validate(sub, from_attributes=True)


def present_delivery(d: WebhookDelivery) -> DeliveryOut:
    out = DeliveryOut.model_validate(d, from_attributes=True)
    return out if d.state == webhooks.PENDING else out.model_copy(update={"next_attempt_at": None})


async def _once(
    request: Request,
    rt: GatewayRuntime,
    principal: Principal,
    status: int,
    work: Callable[[AsyncSession], Awaitable[BaseModel]],
) -> Response:
    """Run `work` in one transaction of the caller's tenant, at most once per key."""
    raw = request.headers.get("idempotency-key")
    key = raw.strip() if raw is not None else None
    if raw is not None and (not key or len(key) > MAX_KEY_LENGTH):
        raise Problem(
            400,
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            field="Idempotency-Key",
        )
    fingerprint = request_fingerprint(
        request.method,
        request.url.path,
        request.scope.get("query_string", b""),
        await request.body(),
    )
    async with transaction(rt, principal.tenant) as s:
        if key:
            replay = await claim_in(s, principal.id, key, fingerprint)
            if replay is not None:
                headers = {k.decode(): v.decode() for k, v in replay.headers}
                headers["idempotent-replayed"] = "true"
                return Response(replay.body, replay.status, headers=headers)
        content = (await work(s)).model_dump_json().encode()
        if key:
            await keep_in(s, principal.id, key, Stored(status, _JSON, content))
    return Response(content, status, media_type="application/json")


async def _checked_url(rt: GatewayRuntime, url: str) -> None:
    cfg = rt.settings
    try:
        await check_target(
            url, allow_private=cfg.webhooks_allow_private, allow_http=cfg.webhooks_allow_http
        )
    except TargetRefused as exc:
        raise Problem(422, str(exc), field="url", slug="webhook-target-refused") from exc


@router.get("/event-types", response_model=list[EventTypeOut])
async def event_types(principal: WebhookManagerDep) -> list[EventTypeOut]:
    """The event types this credential may subscribe to."""
    return [
        EventTypeOut(name=t.name, scope=t.scope, description=t.description)
        for t in webhook_events.CATALOGUE
        if webhooks.may_hear(principal, t.name)
    ]


@router.post("", response_model=WebhookCreated, status_code=201)
async def create_webhook(
    body: WebhookCreate, request: Request, principal: WebhookManagerDep, rt: GatewayDep
) -> Response:
    """Subscribe an HTTPS endpoint of your tenant to event types. The answer holds the
    signing secret, shown this once."""
    webhooks.check_event_types(principal, body.event_types)
    await _checked_url(rt, body.url)

    async def work(s: AsyncSession) -> BaseModel:
        sub = webhooks.subscribe(s, principal, body.url, body.event_types, body.description)
        await s.flush()
        return WebhookCreated(**present(sub).model_dump(), secret=sub.secret)

    return await _once(request, rt, principal, 201, work)


@router.get("", response_model=list[WebhookOut])
async def list_webhooks(principal: WebhookManagerDep, rt: GatewayDep) -> list[WebhookOut]:
    """Your tenant's subscriptions (never their secrets)."""
    async with transaction(rt, principal.tenant) as s:
        return [present(x) for x in await WebhookRepository(s).subscriptions_of(principal.tenant)]


@router.get("/{subscription_id:uuid}", response_model=WebhookOut)
async def get_webhook(
    subscription_id: uuid.UUID, principal: WebhookManagerDep, rt: GatewayDep
) -> WebhookOut:
    """One subscription: its status, and while paused, why."""
    async with transaction(rt, principal.tenant) as s:
        return present(await webhooks.owned(s, principal, subscription_id))


@router.patch("/{subscription_id:uuid}", response_model=WebhookOut)
async def change_webhook(
    subscription_id: uuid.UUID, body: WebhookPatch, principal: WebhookManagerDep, rt: GatewayDep
) -> WebhookOut:
    """Change the URL (checked as on subscribing), the event types or the description."""
    if body.event_types is not None:
        webhooks.check_event_types(principal, body.event_types)
    if body.url is not None:
        await _checked_url(rt, body.url)
    async with transaction(rt, principal.tenant) as s:
        sub = await webhooks.owned(s, principal, subscription_id, lock=True)
        webhooks.change(sub, principal, body.url, body.event_types, body.description)
        return present(sub)


@router.delete("/{subscription_id:uuid}", status_code=204)
async def delete_webhook(
    subscription_id: uuid.UUID, principal: WebhookManagerDep, rt: GatewayDep
) -> Response:
    """Unsubscribe: the subscription and its deliveries are gone."""
    async with transaction(rt, principal.tenant) as s:
        sub = await webhooks.owned(s, principal, subscription_id, lock=True)
        await WebhookRepository(s).delete_subscription(sub)
    return Response(status_code=204)


@router.post("/{subscription_id:uuid}/pause", response_model=WebhookOut)
async def pause_webhook(
    subscription_id: uuid.UUID,
    body: WebhookPause,
    principal: WebhookManagerDep,
    rt: GatewayDep,
) -> WebhookOut:
    """Stop deliveries for now; events keep being collected and go out on resume."""
    async with transaction(rt, principal.tenant) as s:
        sub = await webhooks.owned(s, principal, subscription_id, lock=True)
        if sub.status == webhooks.ACTIVE:
            webhooks.pause(sub, body.reason or f"Paused by {principal.name}.")
        return present(sub)


@router.post("/{subscription_id:uuid}/resume", response_model=WebhookOut)
async def resume_webhook(
    subscription_id: uuid.UUID, principal: WebhookManagerDep, rt: GatewayDep
) -> WebhookOut:
    """Deliver again: what waited while paused goes out now, in order."""
    async with transaction(rt, principal.tenant) as s:
        sub = await webhooks.owned(s, principal, subscription_id, lock=True)
        if sub.status == webhooks.PAUSED:
            await webhooks.resume(s, sub)
        out = present(sub)
    rt.state.webhooks.wake()
    return out


@router.post("/{subscription_id:uuid}/rotate-secret", response_model=SecretRotated)
async def rotate_webhook_secret(
    subscription_id: uuid.UUID, request: Request, principal: WebhookManagerDep, rt: GatewayDep
) -> Response:
    """A new signing secret, shown once; the old one keeps signing for a while (each
    delivery then carries both signatures), so the receiver can switch without a gap."""
    overlap = timedelta(hours=rt.settings.webhook_secret_overlap_hours)

    async def work(s: AsyncSession) -> BaseModel:
        sub = await webhooks.owned(s, principal, subscription_id, lock=True)
        secret = webhooks.rotate_secret(sub, overlap)
        return SecretRotated(secret=secret, previous_secret_until=sub.previous_secret_until)

    return await _once(request, rt, principal, 200, work)


@router.get("/{subscription_id:uuid}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    subscription_id: uuid.UUID,
    principal: WebhookManagerDep,
    rt: GatewayDep,
    state: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeliveryPage:
    """Deliveries of a subscription, oldest first, with their state and last answer."""
    async with transaction(rt, principal.tenant) as s:
        sub = await webhooks.owned(s, principal, subscription_id)
        rows, next_cursor = await WebhookRepository(s).deliveries_page(sub.id, state, limit, cursor)
        return DeliveryPage(items=[present_delivery(d) for d in rows], next_cursor=next_cursor)


async def _delivery(
    s: AsyncSession, principal: Principal, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> tuple[WebhookSubscription, WebhookDelivery]:
    sub = await webhooks.owned(s, principal, subscription_id)
    delivery = await WebhookRepository(s).delivery(delivery_id, sub.id)
    if delivery is None:
        raise Problem(404, "No such delivery.", slug="not-found")
    return sub, delivery


@router.get("/{subscription_id:uuid}/deliveries/{delivery_id:uuid}", response_model=DeliveryDetail)
async def get_delivery(
    subscription_id: uuid.UUID, delivery_id: uuid.UUID, principal: WebhookManagerDep, rt: GatewayDep
) -> DeliveryDetail:
    """One delivery: what was sent, and every attempt with the endpoint's answer."""
    async with transaction(rt, principal.tenant) as s:
        _, delivery = await _delivery(s, principal, subscription_id, delivery_id)
        attempts = await WebhookRepository(s).attempts(delivery.id)
        return DeliveryDetail(
            **present_delivery(delivery).model_dump(),
            payload=delivery.payload,
            attempt_log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
        )


@router.post(
    "/{subscription_id:uuid}/deliveries/{delivery_id:uuid}/replay",
    response_model=DeliveryOut,
    status_code=202,
)
async def replay_delivery(
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    request: Request,
    principal: WebhookManagerDep,
    rt: GatewayDep,
) -> Response:
    """Send a delivery again (same webhook-id, so a receiver can tell; a fresh
    signature). It queues behind anything of its subject still waiting."""

    async def work(s: AsyncSession) -> BaseModel:
        sub, original = await _delivery(s, principal, subscription_id, delivery_id)
        again = webhooks.replay(s, sub, original)
        await s.flush()
        return present_delivery(again)

    response = await _once(request, rt, principal, 202, work)
    rt.state.webhooks.wake()
    return response

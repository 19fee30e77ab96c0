"""Sends webhook deliveries: signed, one at a time per subject, retried with
exponential backoff for days, every attempt and answer kept.

A delivery is leased (its next attempt moved past the request's timeout) in a short
transaction, posted without holding a database connection, and its outcome recorded in
a second one. Replicas share the work (`SKIP LOCKED`); a dispatcher that dies
mid-request leaves a lease that runs out, so the delivery goes out again: at least
once, and receivers drop repeats by `webhook-id`, the same on every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway import webhooks
from services.gateway.models import WebhookAttempt
from services.gateway.repository import DueDelivery, WebhookRepository
from services.gateway.webhook_signing import signature_header
from services.gateway.webhook_targets import CheckedResolver, check_address, literal_host
from shared.db.session import ANY_TENANT, tenant_session

_log = structlog.get_logger("webhooks")

ATTEMPTS = Counter("clusterbridge_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])
KEPT_BODY = 2000  # characters of each answer kept with its attempt
USER_AGENT = "Clusterbridge-Webhooks/1"


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    max_seconds: float = 6 * 3600.0
    window: timedelta = timedelta(hours=72)
    max_attempts: int | None = None

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failed attempt in a row."""
        return float(min(self.base_seconds * 2 ** min(failures - 1, 60), self.max_seconds))

    def next_attempt(self, created: datetime, now: datetime, failures: int) -> datetime | None:
        """When to try again, or None when the delivery has failed for good."""
        # Retried as long as the failure came inside the window, so the last attempt
        # falls at or after its end: "retried for three days" holds to the letter.
        if self.max_attempts is not None and failures >= self.max_attempts:
            return None
        if now - created >= self.window:
            return None
        return now + timedelta(seconds=self.delay(failures))


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None
    body: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def summary(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else (self.error or "no answer")


def _storable(text: bytes | str) -> str:
    """What an endpoint said, as text PostgreSQL can keep: an answer with NUL in it must
    not make its attempt unrecordable (and so retried for ever, never counted)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text.replace("\x00", "\ufffd")


class WebhookDispatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        policy: RetryPolicy,
        *,
        allow_private: bool,
        timeout: float = 10.0,
        concurrency: int = 16,
        poll_seconds: float = 2.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.policy = policy
        self.allow_private = allow_private
        self.timeout = timeout
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None

    def wake(self) -> None:
        """New deliveries were committed: look now rather than at the next poll."""
        self._wake.set()

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            connector = aiohttp.TCPConnector(
                resolver=CheckedResolver(self.allow_private), limit=self.concurrency * 2
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout, connect=min(5.0, self.timeout)),
                trust_env=False,
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def _lease(self, limit: int) -> list[DueDelivery]:
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.timeout + 30.0)
        async with tenant_session(self.sessionmaker, ANY_TENANT) as s:
            return await WebhookRepository(s).lease_due(now, until, limit)

    async def dispatch_once(self) -> int:
        """Send what is due now (one batch, waiting for all of it); returns how many
        deliveries were tried."""
        due = await self._lease(self.concurrency)
        if due:
            await asyncio.gather(*(self._deliver(d) for d in due))
        return len(due)

    async def _post(self, due: DueDelivery) -> Outcome:
        delivery = due.delivery
        body = orjson.dumps(delivery.payload).decode()
        msg_id = f"msg_{delivery.event_id.hex}"
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature_header(due.secrets, msg_id, now, body),
        }
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            literal = literal_host(due.url)
            if literal is not None:  # an IP literal never reaches the resolver
                check_address(literal, self.allow_private)
            async with self._client().post(
                due.url, data=body.encode(), headers=headers, allow_redirects=False
            ) as response:
                raw = await response.content.read(KEPT_BODY * 4)
                return Outcome(response.status, None, _storable(raw)[:KEPT_BODY], took())
        except TimeoutError:
            return Outcome(None, f"no answer within {self.timeout:g} s", None, took())
        except aiohttp.ClientConnectorError as exc:
            return Outcome(None, _storable(f"cannot connect: {exc.os_error or exc}"), None, took())
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Outcome(None, _storable(f"{type(exc).__name__}: {exc}")[:500], None, took())

    async def _deliver(self, due: DueDelivery) -> None:
        outcome = await self._post(due)
        ATTEMPTS.labels("delivered" if outcome.ok else "failed").inc()
        try:
            await self._record(due, outcome)
        except Exception as exc:  # the lease runs out and the delivery goes again
            _log.warning(
                "webhook outcome not recorded", delivery=str(due.delivery.id), error=repr(exc)
            )

    async def _record(self, due: DueDelivery, outcome: Outcome) -> None:
        now = datetime.now(UTC)
        async with tenant_session(self.sessionmaker, ANY_TENANT) as s:
            repo = WebhookRepository(s)
            delivery = await repo.locked_delivery(due.delivery.id)
            if delivery is None:  # its subscription was deleted meanwhile
                return
            repo.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    attempted_at=now,
                    duration_ms=outcome.duration_ms,
                    status=outcome.status,
                    error=outcome.error,
                    response_body=outcome.body,
                )
            )
            delivery.attempts += 1
            delivery.last_status, delivery.last_error = outcome.status, outcome.error
            if outcome.ok:
                delivery.state, delivery.delivered_at = webhooks.DELIVERED, now
                return
            failures = delivery.attempts
            retry_at = self.policy.next_attempt(delivery.created_at, now, failures)
            if retry_at is not None:
                delivery.next_attempt_at = retry_at
                return
            delivery.state = webhooks.FAILED
            sub = await repo.locked_subscription(delivery.subscription_id)
            if sub is not None and sub.status == webhooks.ACTIVE:
                webhooks.pause(
                    sub,
                    f"Delivery {delivery.id} ({delivery.event_type}) failed {failures} times "
                    f"since {delivery.created_at.isoformat(timespec='seconds')}; last: "
                    f"{outcome.summary()}. Fix the endpoint, then resume (and replay it).",
                )
                _log.warning("webhook subscription paused", subscription=str(sub.id))

    async def _sleep(self) -> None:
        async with tenant_session(self.sessionmaker, ANY_TENANT) as s:
            next_at = await WebhookRepository(s).next_due_at()
        wait = self.poll_seconds
        if next_at is not None:
            wait = max(0.0, min(wait, (next_at - datetime.now(UTC)).total_seconds()))
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
        self._wake.clear()

    async def run(self) -> None:
        """Keep up to `concurrency` deliveries in flight, each on its own: a slow
        endpoint (up to its timeout) holds one slot, not everyone's next batch. A
        delivery that ends wakes the loop, since the next of its subject is now due."""
        in_flight: set[asyncio.Task[None]] = set()

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            self.wake()

        try:
            while True:
                try:
                    free = self.concurrency - len(in_flight)
                    due = await self._lease(free) if free > 0 else []
                    for d in due:
                        task = asyncio.create_task(self._deliver(d))
                        in_flight.add(task)
                        task.add_done_callback(finished)
                    if (due and len(due) < free) or free == 0:
                        # Deliveries in flight wake us when they end (the next of
                        # their subject is due then); nothing to ask the database.
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                        self._wake.clear()
                    elif not due:
                        await self._sleep()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database away: try again shortly
                    _log.warning("webhook dispatcher error; retrying", error=repr(exc))
                    await asyncio.sleep(1.0)
        finally:
            for task in in_flight:
                task.cancel()

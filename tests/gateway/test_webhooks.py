"""Webhooks end to end: facts on the bus become signed deliveries to a real HTTP
receiver, retried while it is down, in order per subject, replayable, paused after
repeated failure and resumable; tenants see and hear only their own."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks import Webhook, WebhookVerificationError

from services.gateway.models import WebhookDelivery
from services.gateway.repository import DueDelivery
from services.gateway.webhook_dispatch import RetryPolicy, WebhookDispatcher
from services.gateway.webhook_targets import CheckedResolver, TargetRefused, check_target
from shared.db.engine import create_sessionmaker
from tests.events.helpers import (
    assert_problem,
    known_cluster,
    move,
    new_event,
    ok,
    register,
    request_meeting,
)
from tests.harness import Platform, eventually
from tests.people_helpers import as_person, person
from tests.registry_helpers import cluster_payload
from tests.webhook_receiver import Receiver

TIMEOUT = 30.0


def many(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()
    return items


async def subscribe(
    platform: Platform, who: str, url: str, types: list[str], **extra: Any
) -> dict[str, Any]:
    async with platform.client(who) as c:
        body = ok(
            await c.post("/v1/webhooks", json={"url": url, "event_types": types, **extra}), 201
        )
    assert body["secret"].startswith("whsec_")
    return body


async def deliveries(platform: Platform, who: str, sub_id: str) -> list[dict[str, Any]]:
    async with platform.client(who) as c:
        items: list[dict[str, Any]] = ok(
            await c.get(f"/v1/webhooks/{sub_id}/deliveries", params={"limit": 200})
        )["items"]
    return items


async def unsubscribe(platform: Platform, who: str, sub_id: str) -> None:
    async with platform.client(who) as c:
        assert (await c.delete(f"/v1/webhooks/{sub_id}")).status_code == 204


def verified(secret: str, got: Any) -> dict[str, Any]:
    """The payload, once the library has checked its signature (raises otherwise)."""
    payload: dict[str, Any] = Webhook(secret).verify(got.body, got.headers)
    return payload


async def patch_cluster(platform: Platform, who: str, cluster_id: str, **fields: Any) -> None:
    async with platform.client(who) as c:
        r = await c.patch(f"/v1/clusters/{cluster_id}", json=fields, headers={"If-Match": "*"})
        assert r.status_code == 200, r.text


async def test_a_receiver_down_for_a_while_gets_every_delivery_in_order(
    platform: Platform,
) -> None:
    receiver = Receiver()  # not listening yet: the endpoint is down
    sub = await subscribe(platform, "jp", receiver.url, ["cluster.upserted"])
    clusters = []
    async with platform.client("jp") as c:
        for _ in range(2):
            clusters.append(ok(await c.post("/v1/clusters", json=cluster_payload("jp")), 201))
    for cluster in clusters:
        for city in ("Kobe", "Kyoto"):
            await patch_cluster(platform, "jp", cluster["id"], city=city)
    mine = {c["id"] for c in clusters}

    async def tried_while_down() -> list[dict[str, Any]]:
        return [d for d in await deliveries(platform, "jp", sub["id"]) if d["attempts"] >= 2]

    failed_before = await eventually(tried_while_down, timeout=TIMEOUT)
    assert all(d["state"] == "pending" and d["last_status"] is None for d in failed_before)
    await receiver.start()
    try:

        async def arrived() -> dict[str, list[int]]:
            versions: dict[str, list[int]] = defaultdict(list)
            for got in receiver.of_type("cluster.upserted"):
                data = verified(sub["secret"], got)["data"]
                if data["id"] in mine:
                    versions[data["id"]].append(data["version"])
            return versions

        versions = await eventually(
            arrived, until=lambda v: sum(map(len, v.values())) >= 6, timeout=TIMEOUT
        )
        # Every change of each cluster, once, in the order it happened.
        assert versions == {cid: [1, 2, 3] for cid in mine}
        ids = [g.headers["webhook-id"] for g in receiver.received]
        assert len(ids) == len(set(ids))

        listed = [
            d for d in await deliveries(platform, "jp", sub["id"]) if d["subject"][8:] in mine
        ]
        assert len(listed) == 6
        assert {d["state"] for d in listed} == {"delivered"}
        retried = failed_before[0]
        async with platform.client("jp") as c:
            detail = ok(await c.get(f"/v1/webhooks/{sub['id']}/deliveries/{retried['id']}"))
        log = detail["attempt_log"]
        assert [a["status"] for a in log[:2]] == [None, None]
        assert "cannot connect" in log[0]["error"]
        assert log[-1]["status"] == 200
        assert log[-1]["response_body"] == "answered 200"
        assert detail["attempts"] == len(log)
    finally:
        await receiver.stop()
        await unsubscribe(platform, "jp", sub["id"])


async def test_a_replay_redelivers_one_delivery_signed_with_a_rotated_secret(
    platform: Platform,
) -> None:
    receiver = Receiver()
    await receiver.start()
    sub = await subscribe(platform, "jp", receiver.url, ["cluster.upserted"])
    try:
        async with platform.client("jp") as c:
            cluster = ok(await c.post("/v1/clusters", json=cluster_payload("jp")), 201)

        async def mine() -> list[Any]:
            return [
                g for g in receiver.of_type("cluster.upserted")
                if g.json["data"]["id"] == cluster["id"]
            ]  # fmt: skip

        first = (await eventually(mine, until=lambda got: len(got) == 1, timeout=TIMEOUT))[0]
        delivery = (await deliveries(platform, "jp", sub["id"]))[-1]
        assert delivery["state"] == "delivered"

        async with platform.client("jp") as c:
            rotated = ok(await c.post(f"/v1/webhooks/{sub['id']}/rotate-secret"))
            url = f"/v1/webhooks/{sub['id']}/deliveries/{delivery['id']}/replay"
            headers = {"Idempotency-Key": f"replay-{uuid.uuid4()}"}
            again = ok(await c.post(url, headers=headers), 202)
            # A retry of the same request replays the answer, not the delivery.
            retry = await c.post(url, headers=headers)
            assert retry.status_code == 202
            assert retry.json()["id"] == again["id"]
            assert retry.headers["idempotent-replayed"] == "true"
        assert again["replay_of"] == delivery["id"]

        second = (await eventually(mine, until=lambda got: len(got) >= 2, timeout=TIMEOUT))[1]
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        assert verified(rotated["secret"], second) == verified(sub["secret"], first)
        # During the overlap both secrets sign, so a receiver can switch without a gap.
        assert verified(sub["secret"], second)["data"]["id"] == cluster["id"]
        assert len(second.headers["webhook-signature"].split(" ")) == 2
        with pytest.raises(WebhookVerificationError):
            Webhook(rotated["secret"]).verify(first.body, first.headers)

        listed = await deliveries(platform, "jp", sub["id"])
        assert len([d for d in listed if d["replay_of"] == delivery["id"]]) == 1
        async with platform.client("br") as br:
            assert_problem(await br.post(url), 404)
    finally:
        await receiver.stop()
        await unsubscribe(platform, "jp", sub["id"])


async def test_another_tenant_can_neither_see_nor_touch_nor_hear_a_subscription(
    platform: Platform,
) -> None:
    jp_receiver, kr_receiver, br_receiver = Receiver(), Receiver(), Receiver()
    for r in (jp_receiver, kr_receiver, br_receiver):
        await r.start()
    types = ["cluster.upserted", "meeting_request.sent"]
    jp = await subscribe(platform, "jp", jp_receiver.url, types)
    kr = await subscribe(platform, "kr", kr_receiver.url, types)
    br = await subscribe(platform, "br", br_receiver.url, types)
    try:
        base = f"/v1/webhooks/{jp['id']}"
        async with platform.client("br") as c:
            for method, path in (
                ("GET", base),
                ("DELETE", base),
                ("POST", f"{base}/resume"),
                ("POST", f"{base}/rotate-secret"),
                ("GET", f"{base}/deliveries"),
            ):
                assert_problem(await c.request(method, path), 404)
            assert_problem(await c.post(f"{base}/pause", json={}), 404)
            assert_problem(await c.patch(base, json={"url": "http://127.0.0.1:9/x"}), 404)
            assert jp["id"] not in {s["id"] for s in many(await c.get("/v1/webhooks"))}
        async with platform.client("jp") as c:
            assert ok(await c.get(base))["status"] == "active"

        # A meeting request from a jp cluster to a kr cluster: both parties hear it.
        ev = await new_event(platform, "eu")
        await move(platform, "eu", ev["id"], "registration")
        jp_cluster = await known_cluster(platform, "jp")
        kr_cluster = await known_cluster(platform, "kr")
        for cluster in (jp_cluster, kr_cluster):
            await register(platform, "eu", ev["id"], cluster["id"])
        await move(platform, "eu", ev["id"], "requests")
        request = await request_meeting(
            platform, "jp", ev["id"], jp_cluster["id"], kr_cluster["id"]
        )

        def requests_in(receiver: Receiver, secret: str) -> list[str]:
            return [
                verified(secret, g)["data"]["id"] for g in receiver.of_type("meeting_request.sent")
            ]

        async def both_heard() -> bool:
            return request["id"] in requests_in(jp_receiver, jp["secret"]) and request[
                "id"
            ] in requests_in(kr_receiver, kr["secret"])

        await eventually(both_heard, timeout=TIMEOUT)
        # kr heard of jp's request (it is a party) but not of jp's cluster.
        assert jp_cluster["id"] not in [
            g.json["data"]["id"] for g in kr_receiver.of_type("cluster.upserted")
        ]
        # br is no party: nothing of it was even queued for br's endpoint (deliveries are
        # written in the same transaction for every subscriber, so this is final).
        queued_for_br = {d["subject"] for d in await deliveries(platform, "br", br["id"])}
        assert f"meeting-request:{request['id']}" not in queued_for_br
        assert f"cluster:{jp_cluster['id']}" not in queued_for_br
        assert f"cluster:{kr_cluster['id']}" not in queued_for_br
        assert all(
            g.json["data"]["id"] not in (request["id"], jp_cluster["id"], kr_cluster["id"])
            for g in br_receiver.received
        )
    finally:
        for r in (jp_receiver, kr_receiver, br_receiver):
            await r.stop()
        for who, s in (("jp", jp), ("kr", kr), ("br", br)):
            await unsubscribe(platform, who, s["id"])


async def test_who_may_manage_webhooks(platform: Platform) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["cluster.upserted"]}
    async with platform.client("jp_readonly") as c:
        assert_problem(await c.post("/v1/webhooks", json=body), 403)
        assert_problem(await c.get("/v1/webhooks"), 403)
    cluster = await known_cluster(platform, "jp")
    manager = await person(platform, "jp", ["cluster-manager"], [cluster["id"]])
    async with as_person(platform, manager) as c:
        assert_problem(await c.post("/v1/webhooks", json=body), 403)
    admin = await person(platform, "jp", ["agency-admin"])
    async with as_person(platform, admin) as c:
        made = ok(await c.post("/v1/webhooks", json=body), 201)
        assert made["tenant"] == "jp"
        listed = {s["id"] for s in many(await c.get("/v1/webhooks"))}
        assert made["id"] in listed
        assert "secret" not in ok(await c.get(f"/v1/webhooks/{made['id']}"))
        assert (await c.delete(f"/v1/webhooks/{made['id']}")).status_code == 204


async def test_subscribing_is_idempotent_and_bad_input_writes_nothing(platform: Platform) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["cluster.upserted"]}
    key = {"Idempotency-Key": f"sub-{uuid.uuid4()}"}
    async with platform.client("kr") as c:
        before = len(many(await c.get("/v1/webhooks")))
        first = ok(await c.post("/v1/webhooks", json=body, headers=key), 201)
        again = await c.post("/v1/webhooks", json=body, headers=key)
        assert again.status_code == 201
        assert again.json() == first
        other = {**body, "description": "another"}
        assert_problem(await c.post("/v1/webhooks", json=other, headers=key), 422)
        for bad in (
            {**body, "event_types": ["cluster.exploded"]},
            {**body, "event_types": []},
            {**body, "url": "ftp://127.0.0.1/hook"},
            {**body, "url": "http://user:pw@127.0.0.1/hook"},
            {**body, "url": "http://"},
            {**body, "url": "https://does-not-exist.invalid/hook"},
            {**body, "surprise": True},
            {"event_types": ["cluster.upserted"]},
        ):
            problem = assert_problem(await c.post("/v1/webhooks", json=bad), 422)
            assert problem.get("field") or problem.get("errors"), problem
        assert_problem(
            await c.post("/v1/webhooks", json=body, headers={"Idempotency-Key": "x" * 300}), 400
        )
        assert len(many(await c.get("/v1/webhooks"))) == before + 1
        await c.delete(f"/v1/webhooks/{first['id']}")


async def test_repeated_failure_pauses_with_the_reason_and_resume_delivers_what_waited(
    platform: Platform,
) -> None:
    receiver = Receiver(status=500)
    await receiver.start()
    sub = await subscribe(platform, "br", receiver.url, ["cluster.upserted"])
    try:
        async with platform.client("br") as c:
            first = ok(await c.post("/v1/clusters", json=cluster_payload("br")), 201)

            async def paused() -> dict[str, Any]:
                got: dict[str, Any] = ok(await c.get(f"/v1/webhooks/{sub['id']}"))
                return got

            state = await eventually(
                paused, until=lambda s: s["status"] == "paused", timeout=TIMEOUT
            )
            assert "HTTP 500" in state["paused_reason"]
            assert "failed 8 times" in state["paused_reason"]
            failed = [
                d for d in await deliveries(platform, "br", sub["id"]) if d["state"] == "failed"
            ]
            assert [d["subject"] for d in failed] == [f"cluster:{first['id']}"]
            detail = ok(await c.get(f"/v1/webhooks/{sub['id']}/deliveries/{failed[0]['id']}"))
            assert [a["status"] for a in detail["attempt_log"]] == [500] * 8
            assert detail["attempt_log"][0]["response_body"] == "answered 500"
            tried = len(receiver.received)

            # While paused, new facts wait (nothing is tried), then go out on resume.
            later = ok(await c.post("/v1/clusters", json=cluster_payload("br")), 201)

            async def waiting() -> list[dict[str, Any]]:
                return [
                    d for d in await deliveries(platform, "br", sub["id"])
                    if d["subject"] == f"cluster:{later['id']}"
                ]  # fmt: skip

            queued = await eventually(waiting, timeout=TIMEOUT)
            assert queued[0]["state"] == "pending"
            assert queued[0]["attempts"] == 0
            assert len(receiver.received) == tried
            receiver.status = 200
            resumed = ok(await c.post(f"/v1/webhooks/{sub['id']}/resume"))
            assert resumed["status"] == "active"
            assert resumed["paused_reason"] is None
            ok(await c.post(f"/v1/webhooks/{sub['id']}/deliveries/{failed[0]['id']}/replay"), 202)

        async def delivered() -> set[str]:
            return {
                g.json["data"]["id"]
                for g in receiver.received[tried:]
                if g.json["type"] == "cluster.upserted"
            }

        await eventually(
            delivered, until=lambda ids: {first["id"], later["id"]} <= ids, timeout=TIMEOUT
        )
    finally:
        await receiver.stop()
        await unsubscribe(platform, "br", sub["id"])


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://localhost/hook",
        "http://93.184.215.14/hook",  # public, but not HTTPS
    ],
)
async def test_private_and_plain_http_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        await check_target(url, allow_private=False, allow_http=False)


async def test_an_operator_may_allow_private_targets() -> None:
    await check_target("http://127.0.0.1:9/hook", allow_private=True, allow_http=True)
    await check_target("https://93.184.215.14/hook", allow_private=False, allow_http=False)


async def test_a_name_resolving_to_loopback_at_delivery_time_is_not_called(
    platform: Platform,
) -> None:
    """DNS rebinding: the check is in the resolver the connection uses, so a name that
    now points at a private address is refused at delivery, not only at subscription."""
    with pytest.raises(TargetRefused):
        await CheckedResolver(allow_private=False).resolve("localhost", 80)
    receiver = Receiver()
    await receiver.start()
    engine = create_async_engine(platform.database_url)
    dispatcher = WebhookDispatcher(
        create_sessionmaker(engine), RetryPolicy(), allow_private=False, timeout=5
    )
    try:
        delivery = WebhookDelivery(
            id=uuid.uuid4(), event_id=uuid.uuid4(), payload={"type": "cluster.upserted", "data": {}}
        )
        for url in (receiver.url.replace("127.0.0.1", "localhost"), receiver.url):
            outcome = await dispatcher._post(DueDelivery(delivery, url, ["whsec_" + "A" * 43]))
            assert outcome.status is None
            assert "private or loopback" in (outcome.error or "")
        assert receiver.received == []
    finally:
        await dispatcher.close()
        await engine.dispose()
        await receiver.stop()


def test_a_failing_delivery_is_retried_with_backoff_for_three_days() -> None:
    policy = RetryPolicy()  # the production defaults
    created = now = datetime(2026, 1, 1, tzinfo=UTC)
    times, failures = [now], 0
    while True:
        failures += 1
        nxt = policy.next_attempt(created, now, failures)
        if nxt is None:
            break
        times.append(nxt)
        now = nxt
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert gaps[:4] == [5.0, 10.0, 20.0, 40.0]
    assert max(gaps) == 6 * 3600
    assert times[-1] - created >= timedelta(days=3)
    assert times[-1] - created < timedelta(days=3, hours=6)
    assert RetryPolicy(max_attempts=3).next_attempt(created, created, 3) is None


async def test_event_types_offered_follow_the_scopes(platform: Platform) -> None:
    async with platform.client("jp") as c:
        names = {t["name"] for t in many(await c.get("/v1/webhooks/event-types"))}
    assert {"cluster.upserted", "meeting_request.sent", "agenda.published"} <= names
    async with httpx.AsyncClient(base_url=platform.gateway_url) as anonymous:
        assert_problem(await anonymous.get("/v1/webhooks/event-types"), 401)


async def test_an_agenda_reaches_the_organiser_and_the_participants_tenants_only(
    platform: Platform,
) -> None:
    receivers = {who: Receiver() for who in ("eu", "jp", "kr", "br")}
    for r in receivers.values():
        await r.start()
    subs = {
        who: await subscribe(platform, who, r.url, ["agenda.published"])
        for who, r in receivers.items()
    }
    try:
        ev = await new_event(platform, "eu")
        eid = ev["id"]
        await move(platform, "eu", eid, "registration")
        jp_cluster = await known_cluster(platform, "jp")
        kr_cluster = await known_cluster(platform, "kr")
        for cluster in (jp_cluster, kr_cluster):
            await register(platform, "eu", eid, cluster["id"])
        await move(platform, "eu", eid, "requests")
        request = await request_meeting(platform, "jp", eid, jp_cluster["id"], kr_cluster["id"])
        async with platform.client("kr") as c:
            ok(await c.post(f"/v1/events/{eid}/requests/{request['id']}/accept"))
        await move(platform, "eu", eid, "scheduling")
        async with platform.client("eu") as c:
            ok(await c.post(f"/v1/events/{eid}/schedules", json={"time_limit": 5}), 201)
            ok(await c.post(f"/v1/events/{eid}/publish"))

        def agendas(who: str) -> list[dict[str, Any]]:
            return [
                verified(subs[who]["secret"], g)["data"]
                for g in receivers[who].of_type("agenda.published")
                if g.json["data"]["event_id"] == eid
            ]

        async def heard() -> bool:
            return all(agendas(who) for who in ("eu", "jp", "kr"))

        await eventually(heard, timeout=TIMEOUT)
        assert agendas("jp")[0]["meetings"] == 1
        queued_for_br = await deliveries(platform, "br", subs["br"]["id"])
        assert f"event:{eid}" not in {d["subject"] for d in queued_for_br}
        assert agendas("br") == []
    finally:
        for r in receivers.values():
            await r.stop()
        for who, s in subs.items():
            await unsubscribe(platform, who, s["id"])


async def test_an_answer_with_nul_in_it_is_kept_and_counted(platform: Platform) -> None:
    """A hostile endpoint's answer must not make its attempt unrecordable (it would be
    sent again for ever and never pause)."""
    receiver = Receiver(status=200, answer="ok\x00" + "x" * 5000)
    await receiver.start()
    sub = await subscribe(platform, "kr", receiver.url, ["cluster.upserted"])
    try:
        async with platform.client("kr") as c:
            cluster = ok(await c.post("/v1/clusters", json=cluster_payload("kr")), 201)

        async def done() -> list[dict[str, Any]]:
            return [
                d for d in await deliveries(platform, "kr", sub["id"])
                if d["subject"] == f"cluster:{cluster['id']}" and d["state"] == "delivered"
            ]  # fmt: skip

        delivery = (await eventually(done, timeout=TIMEOUT))[0]
        async with platform.client("kr") as c:
            detail = ok(await c.get(f"/v1/webhooks/{sub['id']}/deliveries/{delivery['id']}"))
        [attempt] = detail["attempt_log"]
        assert attempt["response_body"].startswith("ok\ufffdxxx")
        assert len(attempt["response_body"]) == 2000
    finally:
        await receiver.stop()
        await unsubscribe(platform, "kr", sub["id"])


async def test_two_dispatchers_share_the_work_and_keep_the_order_per_subject(
    platform: Platform,
) -> None:
    """A second replica's dispatcher on the same tables: nothing twice, nothing out of
    order (only the first waiting delivery of a subject is ever taken)."""
    receiver = Receiver()
    await receiver.start()
    engine = create_async_engine(platform.database_url)
    second = WebhookDispatcher(
        create_sessionmaker(engine),
        RetryPolicy(base_seconds=0.05, max_seconds=0.4),
        allow_private=True,
        poll_seconds=0.2,
    )
    task = asyncio.create_task(second.run())
    sub = await subscribe(platform, "eu", receiver.url, ["cluster.upserted"])
    try:
        async with platform.client("eu") as c:
            cluster = ok(await c.post("/v1/clusters", json=cluster_payload("eu")), 201)
        for i in range(9):
            await patch_cluster(platform, "eu", cluster["id"], city=f"City {i}")

        async def versions() -> list[int]:
            return [
                verified(sub["secret"], g)["data"]["version"]
                for g in receiver.of_type("cluster.upserted")
                if g.json["data"]["id"] == cluster["id"]
            ]

        got = await eventually(versions, until=lambda v: len(v) >= 10, timeout=TIMEOUT)
        assert got == list(range(1, 11))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await second.close()
        await engine.dispose()
        await receiver.stop()
        await unsubscribe(platform, "eu", sub["id"])


async def test_a_subscription_can_be_pointed_elsewhere_and_keeps_its_secret(
    platform: Platform,
) -> None:
    old, new = Receiver(), Receiver()
    await new.start()
    sub = await subscribe(platform, "jp", old.url, ["cluster.upserted"])
    try:
        async with platform.client("jp") as c:
            path = f"/v1/webhooks/{sub['id']}"
            assert_problem(await c.patch(path, json={"url": "ftp://x/y"}), 422)
            assert_problem(await c.patch(path, json={"event_types": ["nope.nope"]}), 422)
            assert_problem(await c.patch(path, json={"surprise": 1}), 422)
            changed = ok(await c.patch(path, json={"url": new.url, "description": "moved"}))
            assert changed["url"] == new.url
            assert changed["description"] == "moved"
            assert changed["event_types"] == ["cluster.upserted"]
            cluster = ok(await c.post("/v1/clusters", json=cluster_payload("jp")), 201)

        async def arrived() -> list[Any]:
            return [
                g for g in new.of_type("cluster.upserted")
                if g.json["data"]["id"] == cluster["id"]
            ]  # fmt: skip

        [got] = await eventually(arrived, timeout=TIMEOUT)
        assert verified(sub["secret"], got)["data"]["id"] == cluster["id"]
    finally:
        await new.stop()
        await unsubscribe(platform, "jp", sub["id"])


async def test_a_slow_endpoint_does_not_hold_back_the_others(platform: Platform) -> None:
    release = asyncio.Event()
    slow, fast = Receiver(hold=release), Receiver()
    for r in (slow, fast):
        await r.start()
    held = await subscribe(platform, "eu", slow.url, ["cluster.upserted"])
    quick = await subscribe(platform, "br", fast.url, ["cluster.upserted"])
    try:
        async with platform.client("eu") as c:
            first = ok(await c.post("/v1/clusters", json=cluster_payload("eu")), 201)
        await eventually(lambda: _got(slow, first["id"]), timeout=TIMEOUT)
        # The eu endpoint has not answered yet; br's delivery goes out meanwhile.
        async with platform.client("br") as c:
            other = ok(await c.post("/v1/clusters", json=cluster_payload("br")), 201)
        await eventually(lambda: _got(fast, other["id"]), timeout=TIMEOUT)
        assert not release.is_set()
        release.set()

        async def slow_done() -> list[dict[str, Any]]:
            return [
                d for d in await deliveries(platform, "eu", held["id"])
                if d["subject"] == f"cluster:{first['id']}" and d["state"] == "delivered"
            ]  # fmt: skip

        await eventually(slow_done, timeout=TIMEOUT)
    finally:
        release.set()
        for r in (slow, fast):
            await r.stop()
        await unsubscribe(platform, "eu", held["id"])
        await unsubscribe(platform, "br", quick["id"])


async def _got(receiver: Receiver, cluster_id: str) -> bool:
    return any(g.json["data"]["id"] == cluster_id for g in receiver.of_type("cluster.upserted"))

"""Meeting requests: consent, expiry, privacy of messages, bad requests, suggestions,
and the directory that names participants."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from services.events.suggestions import suggest
from tests.events.helpers import (
    act,
    assert_problem,
    check_schedule,
    count_rows,
    known_cluster,
    move,
    new_event,
    ok,
    outbox_subjects,
    register,
    request_meeting,
)
from tests.harness import Platform, eventually


async def _event_with(platform: Platform, *tenants: str) -> tuple[dict[str, Any], list[str]]:
    """An event open for requests with one registered cluster per tenant given."""
    ev = await new_event(platform, "eu")
    await move(platform, "eu", ev["id"], "registration")
    ids = []
    for who in tenants:
        cluster = await known_cluster(platform, who)
        await register(platform, "eu", ev["id"], cluster["id"])
        ids.append(cluster["id"])
    await move(platform, "eu", ev["id"], "requests")
    return ev, ids


async def test_only_mutually_accepted_requests_are_scheduled(platform: Platform) -> None:
    ev, (eu, jp, br, kr) = await _event_with(platform, "eu", "jp", "br", "kr")
    eid = ev["id"]
    accepted = await request_meeting(platform, "jp", eid, jp, eu)
    declined = await request_meeting(platform, "br", eid, br, eu)
    cancelled = await request_meeting(platform, "kr", eid, kr, eu)
    pending = await request_meeting(platform, "jp", eid, jp, br)
    withdrawn = await request_meeting(platform, "kr", eid, kr, jp)
    await act(platform, "eu", eid, accepted["id"], "accept")
    await act(platform, "eu", eid, declined["id"], "decline")
    await act(platform, "kr", eid, cancelled["id"], "cancel")
    await act(platform, "jp", eid, withdrawn["id"], "accept")
    # Consent withdrawn after acceptance: the meeting is off.
    await act(platform, "jp", eid, withdrawn["id"], "cancel")
    async with platform.client("jp") as c:
        # The sender cannot accept on the receiver's behalf.
        assert_problem(await c.post(f"/v1/events/{eid}/requests/{pending['id']}/accept"), 403)
    await move(platform, "eu", eid, "scheduling")
    async with platform.client("eu") as c:
        draft = ok(await c.post(f"/v1/events/{eid}/schedules", json={"time_limit": 3}), 201)
        participants = ok(await c.get(f"/v1/events/{eid}/participants"))["items"]
    check_schedule(draft, ev, {accepted["id"]: (jp, eu)}, participants)
    assert [m["meeting_id"] for m in draft["meetings"]] == [accepted["id"]]
    subjects = await outbox_subjects(platform, eid)
    assert "events.request.cancelled" in subjects


async def test_pending_requests_expire_at_the_deadline(platform: Platform) -> None:
    ev, (eu, jp, br) = await _event_with(platform, "eu", "jp", "br")
    eid = ev["id"]
    pending = await request_meeting(platform, "jp", eid, jp, eu)
    answered = await request_meeting(platform, "br", eid, br, jp)
    await act(platform, "jp", eid, answered["id"], "accept")
    async with platform.client("eu") as c:
        # The organiser closes requests by moving the deadline into the past.
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        ok(await c.patch(f"/v1/events/{eid}", json={"request_deadline": past}))
    async with platform.client("jp") as c:
        items = ok(await c.get(f"/v1/events/{eid}/requests"))["items"]
        status = {r["id"]: r["status"] for r in items}
        assert status == {pending["id"]: "expired", answered["id"]: "accepted"}
    async with platform.client("eu") as c:
        r = await c.post(f"/v1/events/{eid}/requests/{pending['id']}/accept")
        assert assert_problem(r, 409)["type"].endswith("wrong-request-status")
        # No new requests after the deadline.
        r = await c.post(f"/v1/events/{eid}/requests", json={"sender": eu, "receiver": br})
        assert_problem(r, 409)
        stats = ok(await c.get(f"/v1/events/{eid}/stats"))
    assert stats["requests"]["expired"] == 1
    assert stats["requests"]["accepted"] == 1
    assert "events.request.expired" in await outbox_subjects(platform, eid)


async def test_bad_requests_are_refused_and_nothing_is_written(platform: Platform) -> None:
    ev, (eu, jp) = await _event_with(platform, "eu", "jp")
    eid = ev["id"]
    outsider = await known_cluster(platform, "jp")
    declined = await request_meeting(platform, "jp", eid, jp, eu)
    await act(platform, "eu", eid, declined["id"], "decline")
    before = await count_rows(platform, "requests", eid)
    url = f"/v1/events/{eid}/requests"
    async with platform.client("jp") as c:
        r = await c.post(url, json={"sender": jp, "receiver": jp})
        assert assert_problem(r, 422)["field"] == "receiver"
        r = await c.post(url, json={"sender": jp, "receiver": outsider["id"]})
        assert assert_problem(r, 422)["field"] == "receiver"
        r = await c.post(url, json={"sender": outsider["id"], "receiver": eu})
        assert assert_problem(r, 422)["field"] == "sender"
        # Speaking for another tenant's cluster.
        r = await c.post(url, json={"sender": eu, "receiver": jp})
        assert_problem(r, 403)
        r = await c.post(url, json={"sender": jp, "receiver": eu, "priority": "urgent"})
        assert_problem(r, 422)
        r = await c.post(url, json={"sender": jp, "receiver": eu, "cc": "boss"})
        assert_problem(r, 422)
        r = await c.post(url, content=b'{"sender":', headers={"content-type": "application/json"})
        assert_problem(r, 400)
    async with platform.client("eu") as c:
        # A declined request stays declined.
        r = await c.post(f"{url}/{declined['id']}/accept")
        assert_problem(r, 409)
    assert await count_rows(platform, "requests", eid) == before
    async with platform.client("jp") as c:
        got = ok(await c.get(f"{url}/{declined['id']}"))
    assert got["status"] == "declined"


async def test_messages_are_private_to_the_parties_and_organiser(platform: Platform) -> None:
    ev, (eu, jp) = await _event_with(platform, "eu", "jp")
    eid = ev["id"]
    sent = await request_meeting(platform, "jp", eid, jp, eu, message="Our secret pilot line")
    for who in ("jp", "eu"):
        async with platform.client(who) as c:
            assert ok(await c.get(f"/v1/events/{eid}/requests/{sent['id']}"))["message"] == (
                "Our secret pilot line"
            )
    for who in ("br", "kr"):
        async with platform.client(who) as c:
            assert_problem(await c.get(f"/v1/events/{eid}/requests/{sent['id']}"), 404)
            assert ok(await c.get(f"/v1/events/{eid}/requests"))["items"] == []
            for action in ("accept", "decline", "cancel"):
                r = await c.post(f"/v1/events/{eid}/requests/{sent['id']}/{action}")
                assert_problem(r, 404)
    async with platform.client("jp") as c:
        assert ok(await c.get(f"/v1/events/{eid}/requests/{sent['id']}"))["status"] == "pending"


async def test_suggestions_come_from_the_matching_service(platform: Platform) -> None:
    ev, (eu, jp, br) = await _event_with(platform, "eu", "jp", "br")
    participants = {eu, jp, br}

    async def ask() -> dict[str, Any]:
        async with platform.client("eu") as c:
            body: dict[str, Any] = ok(await c.get(f"/v1/events/{ev['id']}/suggestions"))
            return body

    body = await eventually(ask, until=lambda b: b["available"] and bool(b["pairs"]))
    for pair in body["pairs"]:
        assert {pair["a"], pair["b"]} <= participants
        assert pair["a"] != pair["b"]
    async with platform.client("kr") as c:
        # Neither organiser nor participant: nothing to see.
        assert_problem(await c.get(f"/v1/events/{ev['id']}/suggestions"), 404)


async def test_suggestions_degrade_when_matching_is_absent(platform: Platform) -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    nc = NATS()
    await nc.connect(platform.nats_url)
    try:
        # Nobody serves this subject: the answer degrades, it does not fail.
        absent = await suggest(nc, ids, 5, subject="matching.suggest.nobody-home")
        assert absent.model_dump(mode="json") == {"available": False, "pairs": []}

        outsider = "00000000-0000-0000-0000-000000000001"
        asked: list[dict[str, Any]] = []

        async def responder(msg: Msg) -> None:
            asked.append(orjson.loads(msg.data))
            pairs = [{"a": str(ids[0]), "b": str(ids[1]), "score": 0.8, "reasons": ["fit"]},
                     {"a": str(ids[0]), "b": outsider, "score": 0.9, "reasons": []}]  # fmt: skip
            await msg.respond(orjson.dumps({"pairs": pairs}))

        await nc.subscribe("matching.suggest.fake", cb=responder)
        await nc.flush()
        body = await suggest(nc, ids, 5, subject="matching.suggest.fake")

        async def garbage_responder(msg: Msg) -> None:
            await msg.respond(b"not json")

        garbage_sub = await nc.subscribe("matching.suggest.garbage", cb=garbage_responder)
        garbage = await suggest(nc, ids, 5, subject="matching.suggest.garbage")
        await garbage_sub.unsubscribe()
    finally:
        await nc.close()
    assert body.available is True
    # Only pairs of this event's participants, whatever the matcher sent.
    assert [(p.a, p.b) for p in body.pairs] == [(ids[0], ids[1])]
    assert asked[0]["limit"] == 5
    assert garbage.model_dump(mode="json") == {"available": False, "pairs": []}
    assert set(asked[0]["cluster_ids"]) == {str(i) for i in ids}


async def test_directory_follows_registry_changes(platform: Platform) -> None:
    cluster = await known_cluster(platform, "jp", name="Old name")
    url = f"/v1/clusters/{cluster['id']}"
    async with platform.client("jp") as c:
        etag = (await c.get(url)).headers["etag"]
        ok(await c.patch(url, json={"name": "New name"}, headers={"if-match": etag}))

        async def name() -> str | None:
            r = await c.get(f"/v1/events/clusters/{cluster['id']}")
            return r.json().get("name") if r.status_code == 200 else None

        await eventually(name, until=lambda n: n == "New name")
        assert (await c.delete(url)).status_code == 204

        async def gone() -> int:
            return (await c.get(f"/v1/events/clusters/{cluster['id']}")).status_code

        await eventually(gone, until=lambda s: s == 404)
    ev = await new_event(platform, "eu")
    async with platform.client("eu") as c:
        r = await c.post(f"/v1/events/{ev['id']}/participants", json={"cluster_id": cluster["id"]})
        assert assert_problem(r, 422)["field"] == "cluster_id"

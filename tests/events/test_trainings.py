"""Trainings for people: seats, a waiting list that moves up in order (also under
concurrent registrations), attendance, certificates, messages by mail; bad input and
the walls between tenants and between people."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.events.helpers import assert_problem, ok
from tests.harness import Platform, eventually, mail_to
from tests.people_helpers import SignedInPerson, as_person, many_people, person
from tests.registry_helpers import cluster_payload


def training_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"Cluster management excellence {uuid.uuid4().hex[:6]}",
        "description": "Strategy, services and internationalisation for cluster managers.",
        "venue": "Brussels, Rue Belliard 20",
        "timezone": "Europe/Brussels",
        "sessions": [
            {"date": "2030-05-06", "start": "09:00", "end": "12:30"},
            {"date": "2030-05-07", "start": "09:00", "end": "16:00"},
        ],
        "capacity": 20,
    }
    body.update(overrides)
    return body


async def new_training(platform: Platform, who: str = "eu", **overrides: Any) -> dict[str, Any]:
    async with platform.client(who) as c:
        return ok(await c.post("/v1/trainings", json=training_payload(**overrides)), 201)


async def a_cluster(platform: Platform, tenant: str) -> str:
    async with platform.client(tenant) as c:
        return str(ok(await c.post("/v1/clusters", json=cluster_payload(tenant)), 201)["id"])


async def manager(platform: Platform, tenant: str) -> SignedInPerson:
    return await person(platform, tenant, ["cluster-manager"], [await a_cluster(platform, tenant)])


async def people(platform: Platform, n: int, tenants: tuple[str, ...]) -> list[SignedInPerson]:
    """n signed-in cluster managers spread over `tenants` (made a few at a time)."""
    clusters = {t: await a_cluster(platform, t) for t in tenants}
    specs = [
        (t, ["cluster-manager"], [clusters[t]])
        for t in (tenants[i % len(tenants)] for i in range(n))
    ]
    return await many_people(platform, specs)


async def enrol(platform: Platform, who: SignedInPerson, training_id: str) -> httpx.Response:
    async with as_person(platform, who) as c:
        return await c.post(
            f"/v1/trainings/{training_id}/registrations", json={"name": f"Name of {who.email}"}
        )


async def registration_rows(platform: Platform, training_id: str) -> int:
    engine = create_async_engine(platform.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            n = await conn.scalar(
                text("SELECT count(*) FROM events.training_registrations WHERE training_id = :t"),
                {"t": uuid.UUID(training_id)},
            )
            return int(n or 0)
    finally:
        await engine.dispose()


async def test_fifty_concurrent_registrations_fill_twenty_seats_and_queue_thirty_in_order(
    platform: Platform,
) -> None:
    training = await new_training(platform, "eu", capacity=20)
    tid = training["id"]
    crowd = await people(platform, 50, ("eu", "jp", "br", "kr"))

    answers = await asyncio.gather(*(enrol(platform, p, tid) for p in crowd))

    bodies = [ok(r, 201) for r in answers]
    assert sum(b["status"] == "registered" for b in bodies) == 20
    assert sum(b["status"] == "waiting" for b in bodies) == 30
    assert sorted(b["waiting_position"] for b in bodies if b["status"] == "waiting") == list(
        range(1, 31)
    )
    async with platform.client("eu") as c:
        listing = ok(await c.get(f"/v1/trainings/{tid}/registrations"))
        summary = ok(await c.get(f"/v1/trainings/{tid}"))
    assert (listing["registered"], listing["waiting"]) == (20, 30)
    assert (summary["registered"], summary["waiting"]) == (20, 30)
    # In order: the first 20 to come hold the seats, the rest wait in arrival order, and
    # what each person was told is what the list says now.
    statuses = [i["status"] for i in listing["items"]]
    assert statuses == ["registered"] * 20 + ["waiting"] * 30
    assert [i["waiting_position"] for i in listing["items"][20:]] == list(range(1, 31))
    told = {b["id"]: (b["status"], b["waiting_position"]) for b in bodies}
    assert all(told[i["id"]] == (i["status"], i["waiting_position"]) for i in listing["items"])
    # Each place is announced on the bus with what its person was told.
    engine = create_async_engine(platform.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT payload->'data'->>'change', count(*) FROM events.outbox "
                    "WHERE subject = 'events.training.registration' "
                    "AND payload->'data'->>'training_id' = :t GROUP BY 1"
                ),
                {"t": tid},
            )
            announced = {r[0]: r[1] for r in rows}
    finally:
        await engine.dispose()
    assert announced == {"registered": 20, "waiting": 30}


async def test_a_cancellation_moves_the_first_waiting_person_up_and_mails_them(
    platform: Platform,
) -> None:
    training = await new_training(platform, "jp", capacity=2, timezone="Asia/Tokyo")
    tid = training["id"]
    p1, p2, p3, p4 = await people(platform, 4, ("jp", "eu", "br", "kr"))
    regs = [ok(await enrol(platform, p, tid), 201) for p in (p1, p2, p3, p4)]
    assert [r["status"] for r in regs] == ["registered", "registered", "waiting", "waiting"]
    assert [r["waiting_position"] for r in regs] == [None, None, 1, 2]

    # p2, of another tenant than the organiser, gives up the seat.
    async with as_person(platform, p2) as c:
        cancelled = ok(await c.post(f"/v1/trainings/{tid}/registrations/{regs[1]['id']}/cancel"))
    assert cancelled["status"] == "cancelled"

    async with as_person(platform, p3) as c:
        mine = ok(await c.get(f"/v1/trainings/{tid}/registrations/{regs[2]['id']}"))
    assert (mine["status"], mine["waiting_position"]) == ("registered", None)
    async with as_person(platform, p4) as c:
        mine = ok(await c.get(f"/v1/trainings/{tid}/registrations/{regs[3]['id']}"))
    assert (mine["status"], mine["waiting_position"]) == ("waiting", 1)
    mail = await mail_to(platform, p3.email, "it is yours")
    assert training["title"] in mail

    # Cancelling twice is refused and changes nothing.
    async with as_person(platform, p2) as c:
        r = await c.post(f"/v1/trainings/{tid}/registrations/{regs[1]['id']}/cancel")
    assert_problem(r, 409)
    async with platform.client("jp") as c:
        listing = ok(await c.get(f"/v1/trainings/{tid}/registrations"))
    assert [i["status"] for i in listing["items"]] == [
        "registered",
        "cancelled",
        "registered",
        "waiting",
    ]


def under_way() -> list[dict[str, str]]:
    """Sessions yesterday and tomorrow (UTC): started, and not over, at any hour."""
    today = datetime.now(UTC).date()
    return [
        {"date": str(today - timedelta(days=1)), "start": "00:00", "end": "23:59"},
        {"date": str(today + timedelta(days=1)), "start": "00:00", "end": "23:59"},
    ]


async def test_attendance_and_a_certificate_only_for_those_who_came(platform: Platform) -> None:
    # Attendance is taken on the day, not before the training starts.
    ahead = await new_training(platform, "eu", capacity=1)
    (early,) = await people(platform, 1, ("jp",))
    reg = ok(await enrol(platform, early, ahead["id"]), 201)
    async with platform.client("eu") as c:
        r = await c.post(
            f"/v1/trainings/{ahead['id']}/registrations/{reg['id']}/attendance",
            json={"attended": True},
        )
        assert "not started" in assert_problem(r, 409)["detail"]

    training = await new_training(platform, "eu", capacity=1, timezone="UTC", sessions=under_way())
    tid = training["id"]
    came, waited, stranger = await people(platform, 3, ("jp", "br", "eu"))
    seat = ok(await enrol(platform, came, tid), 201)
    queue = ok(await enrol(platform, waited, tid), 201)
    assert queue["status"] == "waiting"

    async with as_person(platform, came) as c:
        # Before attendance is recorded there is no certificate.
        r = await c.get(f"/v1/trainings/{tid}/registrations/{seat['id']}/certificate.pdf")
        body = assert_problem(r, 409)
        assert "attendance" in body["detail"]
    async with platform.client("eu") as c:
        # Someone on the waiting list cannot have attended.
        r = await c.post(
            f"/v1/trainings/{tid}/registrations/{queue['id']}/attendance", json={"attended": True}
        )
        assert_problem(r, 409)
        marked = ok(
            await c.post(
                f"/v1/trainings/{tid}/registrations/{seat['id']}/attendance",
                json={"attended": True},
            )
        )
        assert marked["attended"] is True
        listing = ok(await c.get(f"/v1/trainings/{tid}/registrations"))
        assert listing["attended"] == 1
        organiser_copy = await c.get(
            f"/v1/trainings/{tid}/registrations/{seat['id']}/certificate.pdf"
        )
        assert organiser_copy.status_code == 200
    async with as_person(platform, came) as c:
        pdf = await c.get(f"/v1/trainings/{tid}/registrations/{seat['id']}/certificate.pdf")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    async with as_person(platform, waited) as c:
        r = await c.get(f"/v1/trainings/{tid}/registrations/{queue['id']}/certificate.pdf")
        assert_problem(r, 409)
    # Another person cannot see or fetch someone else's registration.
    async with as_person(platform, stranger) as c:
        assert_problem(await c.get(f"/v1/trainings/{tid}/registrations/{seat['id']}"), 404)
        r = await c.get(f"/v1/trainings/{tid}/registrations/{seat['id']}/certificate.pdf")
        assert_problem(r, 404)
        r = await c.post(f"/v1/trainings/{tid}/registrations/{seat['id']}/cancel")
        assert_problem(r, 404)
    # Once attended, the seat is not given up any more.
    async with as_person(platform, came) as c:
        r = await c.post(f"/v1/trainings/{tid}/registrations/{seat['id']}/cancel")
        assert_problem(r, 409)


async def test_only_the_organiser_sees_registrations_marks_attendance_and_messages(
    platform: Platform,
) -> None:
    training = await new_training(platform, "eu", capacity=5)
    tid = training["id"]
    (someone,) = await people(platform, 1, ("jp",))
    reg = ok(await enrol(platform, someone, tid), 201)
    manager_eu = await manager(platform, "eu")

    async with platform.client("br") as c:  # another tenant's agency key
        assert_problem(await c.get(f"/v1/trainings/{tid}/registrations"), 403)
        r = await c.post(
            f"/v1/trainings/{tid}/registrations/{reg['id']}/attendance", json={"attended": True}
        )
        assert_problem(r, 403)
        r = await c.post(f"/v1/trainings/{tid}/messages", json={"subject": "x", "body": "y"})
        assert_problem(r, 403)
        # ... and it reads the public training, and not the registration.
        assert ok(await c.get(f"/v1/trainings/{tid}"))["registered"] == 1
        assert_problem(await c.get(f"/v1/trainings/{tid}/registrations/{reg['id']}"), 404)
    # A cluster manager of the organiser's own tenant does not organise.
    async with as_person(platform, manager_eu) as c:
        assert_problem(await c.get(f"/v1/trainings/{tid}/registrations"), 403)
        assert_problem(await c.post("/v1/trainings", json=training_payload()), 403)
    async with platform.client("eu") as c:
        listing = ok(await c.get(f"/v1/trainings/{tid}/registrations"))
    assert [i["attended"] for i in listing["items"]] == [False]


async def test_registration_refusals_change_nothing(platform: Platform) -> None:
    training = await new_training(platform, "eu", capacity=3)
    tid = training["id"]
    (p,) = await people(platform, 1, ("kr",))
    # An API key is no person: nobody to put on the list.
    async with platform.client("kr") as c:
        r = await c.post(f"/v1/trainings/{tid}/registrations", json={"name": "Agency"})
        assert_problem(r, 403)
    ok(await enrol(platform, p, tid), 201)
    assert_problem(await enrol(platform, p, tid), 409)  # twice
    async with as_person(platform, p) as c:
        r = await c.post(f"/v1/trainings/{tid}/registrations", json={"name": "x\u0000y"})
        assert_problem(r, 422)
        r = await c.post(f"/v1/trainings/{tid}/registrations", json={"name": "A", "seat": 1})
        assert_problem(r, 422)
        r = await c.post(f"/v1/trainings/{uuid.uuid4()}/registrations", json={"name": "A"})
        assert_problem(r, 404)
    assert await registration_rows(platform, tid) == 1
    past = await new_training(
        platform, "eu", sessions=[{"date": "2020-01-06", "start": "09:00", "end": "12:00"}]
    )
    problem = assert_problem(await enrol(platform, p, past["id"]), 409)
    assert "over" in problem["detail"]
    assert await registration_rows(platform, past["id"]) == 0
    async with platform.client("eu") as c:
        r = await c.post("/v1/trainings", json=training_payload(capacity=0))
        assert_problem(r, 422)
        r = await c.post("/v1/trainings", json=training_payload(venue=None))
        assert_problem(r, 422)
        bad_session = [{"date": "2030-05-06", "start": "12:00", "end": "09:00"}]
        r = await c.post("/v1/trainings", json=training_payload(sessions=bad_session))
        assert_problem(r, 422)


async def test_the_organiser_messages_participants_by_mail(platform: Platform) -> None:
    training = await new_training(platform, "eu", capacity=1)
    tid = training["id"]
    seated, waiting = await people(platform, 2, ("jp", "br"))
    ok(await enrol(platform, seated, tid), 201)
    ok(await enrol(platform, waiting, tid), 201)
    tag = uuid.uuid4().hex[:8]
    async with platform.client("eu") as c:
        sent = ok(
            await c.post(
                f"/v1/trainings/{tid}/messages",
                json={"subject": f"Room change {tag}", "body": f"We meet in room 2. {tag}"},
            ),
            202,
        )
        assert sent["recipients"] == 1
        sent = ok(
            await c.post(
                f"/v1/trainings/{tid}/messages",
                json={"subject": "Waiting", "body": f"Still waiting {tag}", "to": "waiting"},
            ),
            202,
        )
        assert sent["recipients"] == 1
    assert "room 2" in await mail_to(platform, seated.email, f"room 2. {tag}")
    assert "Still waiting" in await mail_to(platform, waiting.email, f"Still waiting {tag}")

    def bodies_to(address: str) -> list[str]:
        return [m.get_content() for m in platform.mail.messages() if address in str(m["To"])]

    # Each audience got its own message only (the second arrived after the first).
    assert not any(f"Still waiting {tag}" in b for b in bodies_to(seated.email))
    assert not any(f"room 2. {tag}" in b for b in bodies_to(waiting.email))

    async def relayed() -> int:
        engine = create_async_engine(platform.database_url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                n = await conn.scalar(
                    text(
                        "SELECT count(*) FROM events.outbox WHERE subject = 'events.mail.requested'"
                        " AND payload->'data'->>'reference' = :t AND published_at IS NOT NULL"
                    ),
                    {"t": tid},
                )
                return int(n or 0)
        finally:
            await engine.dispose()

    assert await eventually(relayed, until=lambda n: n == 2) == 2

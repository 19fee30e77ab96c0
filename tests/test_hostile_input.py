"""Hostile input gets a clear 4xx problem, never a 500, and the connection lives on.

Each case here was once a 500 (found by fuzzing from the outside): a NUL in a query
parameter or path, a lone surrogate in a JSON string, an event dated in year 1, two
concurrent creates with the same external_id; and headers no client needs.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.events.helpers import event_payload
from tests.harness import Platform
from tests.registry_helpers import cluster_payload

PROBLEM = "application/problem+json"


def assert_problem(r: httpx.Response, *statuses: int) -> dict[str, object]:
    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, object] = r.json()
    assert body["status"] == r.status_code
    return body


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("jp", "/v1/clusters?tenant=%00"),
        ("jp", "/v1/clusters?q=battery%00"),
        ("jp", "/v1/events?tenant=%00"),
        ("operator", "/v1/clients?tenant=%00"),
        ("jp", "/v1/tenants/%00"),
        ("jp", "/v1/matching/search?q=a%00b"),
    ],
)
async def test_nul_in_a_parameter_is_a_400_that_names_it(
    platform: Platform, who: str, path: str
) -> None:
    async with platform.client(who) as c:
        r = await c.get(httpx.URL(platform.gateway_url + path))
        assert_problem(r, 400, 404, 422)
        # The keep-alive connection serves the next request (a 500 used to drop it).
        assert (await c.get("/v1/tenants")).status_code == 200


async def test_lone_surrogate_in_a_json_string_is_malformed_json(platform: Platform) -> None:
    raw = b'{"name": "Bad \\ud800 text", "country": "JP", "description": "x"}'  # a lone surrogate
    async with platform.client("jp") as c:
        r = await c.post("/v1/clusters", content=raw, headers={"content-type": "application/json"})
        body = assert_problem(r, 400)
        assert str(body["type"]).endswith("malformed-json")
        found = await c.get("/v1/clusters", params={"q": "Bad"})
        assert all("\ud800" not in i["name"] for i in found.json()["items"])


@pytest.mark.parametrize(
    "sessions",
    [
        [{"date": "0001-01-01", "start": "09:00", "end": "12:00"}],
        [{"date": "9999-12-31", "start": "09:00", "end": "12:00"}],
    ],
    ids=["year-1", "year-9999"],
)
async def test_event_dates_outside_the_calendar_are_refused(
    platform: Platform, sessions: list[dict[str, str]]
) -> None:
    async with platform.client("eu") as c:
        before = (await c.get("/v1/events", params={"limit": 200})).json()["items"]
        r = await c.post("/v1/events", json=event_payload(sessions=sessions))
        body = assert_problem(r, 422)
        assert "sessions" in str(body["field"])
        r = await c.post(
            "/v1/events", json=event_payload(request_deadline="0001-01-01T00:00:00+00:00")
        )
        assert_problem(r, 422)
        after = (await c.get("/v1/events", params={"limit": 200})).json()["items"]
        assert len(after) == len(before)


async def test_concurrent_creates_with_one_external_id_make_one_cluster(
    platform: Platform,
) -> None:
    external_id = f"race-{uuid.uuid4().hex[:8]}"
    async with platform.client("jp") as c:
        answers = await asyncio.gather(
            *(
                c.post("/v1/clusters", json=cluster_payload("jp", external_id=external_id))
                for _ in range(8)
            )
        )
        statuses = sorted(r.status_code for r in answers)
        assert statuses.count(201) == 1, statuses
        for r in answers:
            if r.status_code != 201:
                body = assert_problem(r, 409)
                assert body["field"] == "external_id"
        listed = await c.get("/v1/clusters", params={"tenant": "jp", "limit": 200})
        assert listed.status_code == 200


async def test_headers_no_client_needs_are_refused_before_forwarding(platform: Platform) -> None:
    async with platform.client("jp") as c:
        r = await c.get("/v1/tenants", headers={"x-padding": "a" * 64_000})
        assert_problem(r, 431)
        many = {f"x-h-{n}": "1" for n in range(500)}
        r = await c.get("/v1/tenants", headers=many)
        assert_problem(r, 431)
        assert (await c.get("/v1/tenants")).status_code == 200


async def test_two_authorization_headers_are_refused_alike_everywhere(platform: Platform) -> None:
    headers = [
        ("authorization", f"Bearer {platform.keys['jp']}"),
        ("authorization", f"Bearer {platform.keys['br']}"),
    ]
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        for path in ("/v1/me", "/v1/clusters", "/v1/events"):
            r = await c.get(path, headers=headers)
            body = assert_problem(r, 400)
            assert body["field"] == "Authorization", path


async def test_methods_a_path_does_not_serve_are_405_with_every_allowed_method(
    platform: Platform,
) -> None:
    async with platform.client("jp") as c:
        r = await c.put(f"/v1/clusters/{uuid.uuid4()}", json={})
        assert_problem(r, 405)
        assert set(r.headers["allow"].split(", ")) >= {"GET", "PATCH", "DELETE"}
        r = await c.patch("/v1/clusters/import", json={})
        assert_problem(r, 405)
        assert "POST" in r.headers["allow"]

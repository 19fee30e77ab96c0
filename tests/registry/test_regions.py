"""Regions as ISO 3166-2 subdivision codes; free-text regions shown until a code is set."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest

from tests.harness import Platform
from tests.registry_helpers import cluster_payload


async def _create(platform: Platform, who: str, **fields: Any) -> dict[str, Any]:
    async with platform.client(who) as c:
        r = await c.post("/v1/clusters", json=cluster_payload(who, **fields))
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def test_a_region_code_names_the_region(platform: Platform) -> None:
    made = await _create(platform, "jp", region_code="jp-27")
    assert (made["region_code"], made["region"]) == ("JP-27", "Osaka")
    async with platform.client("br") as c:  # public: every tenant sees it
        seen = (await c.get(f"/v1/clusters/{made['id']}")).json()
    assert (seen["region_code"], seen["region"]) == ("JP-27", "Osaka")


async def test_free_text_region_is_kept_and_shown_until_a_code_is_set(platform: Platform) -> None:
    made = await _create(platform, "eu", region="Rhône valley")
    assert (made["region"], made["region_code"]) == ("Rhône valley", None)
    url = f"/v1/clusters/{made['id']}"
    async with platform.client("eu") as c:
        etag = (await c.get(url)).headers["etag"]
        r = await c.patch(url, json={"region_code": "DE-BY"}, headers={"if-match": etag})
        assert r.status_code == 200, r.text
        assert (r.json()["region"], r.json()["region_code"]) == ("Bayern", "DE-BY")
        # The agency's own text is still stored: clearing the code shows it again.
        etag = r.headers["etag"]
        r = await c.patch(url, json={"region_code": None}, headers={"if-match": etag})
        assert (r.json()["region"], r.json()["region_code"]) == ("Rhône valley", None)


@pytest.mark.parametrize(
    ("who", "fields"),
    [
        ("jp", {"region_code": "JP-99"}),
        ("jp", {"region_code": "FR-ARA"}),  # real, but not in Japan
        ("jp", {"region_code": "Osaka"}),
        ("jp", {"region_code": "JP-27\u0000"}),
        ("jp", {"region_code": 27}),
        ("eu", {"region_code": "DE-BY", "country": "FR"}),
    ],
    ids=["unknown", "other-country", "a-name", "nul", "number", "mismatch-eu"],
)
async def test_bad_region_codes_are_refused(
    platform: Platform, who: str, fields: dict[str, Any]
) -> None:
    name = f"Regionless {uuid.uuid4().hex[:8]}"
    async with platform.client(who) as c:
        r = await c.post("/v1/clusters", json=cluster_payload(who, name=name, **fields))
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert (await c.get("/v1/clusters", params={"q": name})).json()["items"] == []


async def test_changing_country_away_from_the_region_is_refused(platform: Platform) -> None:
    made = await _create(platform, "eu", country="DE", region_code="DE-BY")
    url = f"/v1/clusters/{made['id']}"
    async with platform.client("eu") as c:
        etag = (await c.get(url)).headers["etag"]
        r = await c.patch(url, json={"country": "FR"}, headers={"if-match": etag})
        assert r.status_code == 422
        assert r.json()["field"] == "region_code"
        r = await c.patch(
            url, json={"country": "FR", "region_code": "FR-ARA"}, headers={"if-match": etag}
        )
        assert r.status_code == 200, r.text
    async with platform.client("jp") as other:  # another tenant cannot move it at all
        etag = (await other.get(url)).headers["etag"]
        r = await other.patch(url, json={"region_code": "FR-IDF"}, headers={"if-match": etag})
        assert r.status_code == 403


async def test_import_accepts_region_codes(platform: Platform) -> None:
    marker = f"reg{uuid.uuid4().hex[:10]}"
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["external_id", "name", "country", "description", "region_code"])
    w.writerow([f"{marker}-1", "Busan Ports", "KR", marker, "KR-26"])
    w.writerow([f"{marker}-2", "Nowhere", "KR", marker, "KR-99"])
    async with platform.client("kr") as c:
        r = await c.post(
            "/v1/clusters/import", content=out.getvalue(), headers={"content-type": "text/csv"}
        )
        report = r.json()
        assert (report["created"], report["refused"]) == (1, 1), report
        assert report["errors"][0]["field"] == "region_code"
        [found] = (await c.get("/v1/clusters", params={"q": marker})).json()["items"]
    assert (found["region_code"], found["region"]) == ("KR-26", "Busan-gwangyeoksi")

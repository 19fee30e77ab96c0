"""Bulk import: JSON Lines and CSV, idempotent on external_id, with a per-row report."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any

import orjson

from tests.harness import Platform
from tests.registry_helpers import cluster_payload


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


async def run_import(
    platform: Platform, who: str, body: bytes, content_type: str = "application/x-ndjson"
) -> dict[str, Any]:
    async with platform.client(who) as c:
        r = await c.post(
            "/v1/clusters/import", content=body, headers={"content-type": content_type}
        )
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


async def find(platform: Platform, who: str, marker: str) -> list[dict[str, Any]]:
    async with platform.client(who) as c:
        r = await c.get("/v1/clusters", params={"q": marker, "limit": 200})
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_jsonl_import_creates_then_updates_without_duplicates(platform: Platform) -> None:
    marker = f"imp{uuid.uuid4().hex[:10]}"
    rows = [
        cluster_payload("jp", external_id=f"{marker}-{i}", description=f"{marker} row {i}")
        for i in range(30)
    ]
    report = await run_import(platform, "jp", jsonl(rows))
    assert (report["created"], report["updated"], report["refused"]) == (30, 0, 0)
    assert report["status"] == "done"
    assert len(await find(platform, "jp", marker)) == 30

    # The same file again changes nothing; an edited row updates in place.
    report = await run_import(platform, "jp", jsonl(rows))
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 30)
    rows[3]["city"] = "Sendai"
    report = await run_import(platform, "jp", jsonl(rows))
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 1, 29)
    found = await find(platform, "jp", marker)
    assert len(found) == 30
    row3 = next(c for c in found if c["external_id"] == f"{marker}-3")
    assert row3["city"] == "Sendai"
    assert row3["version"] == 2


async def test_import_reports_each_refused_row_and_stores_the_rest(platform: Platform) -> None:
    marker = f"imp{uuid.uuid4().hex[:10]}"
    good = cluster_payload("jp", external_id=f"{marker}-ok", description=marker)
    body = b"".join(
        [
            orjson.dumps(good) + b"\n",
            b"{broken json\n",
            orjson.dumps(cluster_payload("jp", external_id=f"{marker}-c", country="BR")) + b"\n",
            orjson.dumps(cluster_payload("jp", external_id=f"{marker}-e", ecosystems=["x"]))
            + b"\n",
            orjson.dumps(cluster_payload("jp", description=marker)) + b"\n",  # no external_id
            b"[1, 2]\n",
            b"\n",
        ]
    )
    report = await run_import(platform, "jp", body)
    assert report["created"] == 1
    assert report["refused"] == 5
    by_line = {e["line"]: e for e in report["errors"]}
    assert set(by_line) == {2, 3, 4, 5, 6}
    assert by_line[3]["field"] == "country"
    assert by_line[4]["field"].startswith("ecosystems")
    assert by_line[5]["field"] == "external_id"
    assert [c["external_id"] for c in await find(platform, "jp", marker)] == [f"{marker}-ok"]


async def test_csv_import_with_lists_members_label_and_quoted_newlines(platform: Platform) -> None:
    marker = f"imp{uuid.uuid4().hex[:10]}"
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        ["external_id", "name", "country", "description", "ecosystems", "competences",
         "offers", "needs", "members_smes", "label_level", "label_valid_until"]
    )  # fmt: skip
    w.writerow(
        [f"{marker}-1", "Seoul Semicon", "KR", f"{marker} line one\nline two, with comma",
         "electronics;digital", "chip design; EDA", "wafer testing", "packaging", "120",
         "gold", "2027-06-30"]
    )  # fmt: skip
    w.writerow([f"{marker}-2", "Busan Ports", "KR", marker, "nonsense", "", "", "", "", "", ""])
    report = await run_import(platform, "kr", out.getvalue().encode(), "text/csv")
    assert report["created"] == 1, report
    assert report["refused"] == 1
    assert report["errors"][0]["line"] == 4  # the quoted newline made record 1 two lines
    [cluster] = await find(platform, "kr", marker)
    assert cluster["ecosystems"] == ["electronics", "digital"]
    assert cluster["competences"] == ["chip design", "EDA"]
    assert cluster["members"]["smes"] == 120
    assert cluster["label"]["level"] == "gold"
    assert cluster["label"]["valid_until"] == "2027-06-30"
    assert cluster["label"]["status"] == (
        "valid" if date.today().isoformat() <= "2027-06-30" else "expired"
    )
    assert "line two, with comma" in cluster["description"]


async def test_csv_with_unknown_column_is_refused_before_anything_is_written(
    platform: Platform,
) -> None:
    marker = f"imp{uuid.uuid4().hex[:10]}"
    body = f"external_id,name,country,password\n{marker},X,JP,secret\n".encode()
    async with platform.client("jp") as c:
        r = await c.post("/v1/clusters/import", content=body, headers={"content-type": "text/csv"})
    assert r.status_code == 422
    assert r.json()["field"] == "header"
    assert await find(platform, "jp", marker) == []


async def test_import_refuses_unknown_media_type_and_non_utf8(platform: Platform) -> None:
    async with platform.client("jp") as c:
        r = await c.post(
            "/v1/clusters/import", content=b"<xml/>", headers={"content-type": "application/xml"}
        )
        assert r.status_code == 415
        r = await c.post(
            "/v1/clusters/import",
            content=b'{"name": "\xff\xfe"}\n',
            headers={"content-type": "application/x-ndjson"},
        )
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"


async def test_same_external_id_in_two_tenants_are_two_clusters(platform: Platform) -> None:
    marker = f"imp{uuid.uuid4().hex[:10]}"
    await run_import(
        platform, "jp", jsonl([cluster_payload("jp", external_id=marker, description=marker)])
    )
    report = await run_import(
        platform, "br", jsonl([cluster_payload("br", external_id=marker, description=marker)])
    )
    assert report["created"] == 1
    found = await find(platform, "br", marker)
    assert sorted(c["tenant"] for c in found) == ["br", "jp"]


async def test_import_report_is_private_to_the_tenant(platform: Platform) -> None:
    marker = f"imp{uuid.uuid4().hex[:10]}"
    report = await run_import(
        platform, "jp", jsonl([cluster_payload("jp", external_id=marker, description=marker)])
    )
    async with platform.client("jp") as c:
        assert (await c.get(f"/v1/imports/{report['id']}")).status_code == 200
        assert report["id"] in [r["id"] for r in (await c.get("/v1/imports")).json()]
    async with platform.client("br") as c:
        assert (await c.get(f"/v1/imports/{report['id']}")).status_code == 404
        assert report["id"] not in [r["id"] for r in (await c.get("/v1/imports")).json()]


async def test_large_streamed_import(platform: Platform) -> None:
    """Many rows through the streamed path (the 50,000-row figure is in bench/)."""
    marker = f"imp{uuid.uuid4().hex[:10]}"
    rows = (
        orjson.dumps(cluster_payload("kr", external_id=f"{marker}-{i}", description=marker)) + b"\n"
        for i in range(1200)
    )

    async def chunks() -> Any:
        for row in rows:
            yield row

    async with platform.client("kr") as c:
        r = await c.post(
            "/v1/clusters/import",
            content=chunks(),
            headers={"content-type": "application/x-ndjson"},
        )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1200

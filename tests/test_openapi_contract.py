"""The merged OpenAPI document is the contract: complete enough that a partner agency
generates a typed client from it with no warning, and that client works.

Held here: a response schema for every 2xx of every operation, unique schema titles
(a generator keys models by title, and two `FeedbackIn` once made one operation vanish),
required headers declared as such.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import Platform, eventually
from tests.registry_helpers import cluster_payload

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
async def spec(platform: Platform) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        doc: dict[str, Any] = (await c.get("/openapi.json")).json()
    return doc


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_success_answer_has_a_schema(spec: dict[str, Any]) -> None:
    missing = []
    for path, method, op in _operations(spec):
        for status, answer in op["responses"].items():
            if not status.startswith("2") or status == "204":
                continue
            content = answer.get("content", {})
            if not content or not all("schema" in c and c["schema"] for c in content.values()):
                missing.append(f"{method.upper()} {path} {status}")
    assert missing == []


def test_schema_titles_are_unique(spec: dict[str, Any]) -> None:
    titles = Counter(s.get("title", name) for name, s in spec["components"]["schemas"].items())
    assert [t for t, n in titles.items() if n > 1] == []


def test_required_headers_are_declared(spec: dict[str, Any]) -> None:
    patch = spec["paths"]["/v1/clusters/{cluster_id}"]["patch"]
    (if_match,) = [p for p in patch["parameters"] if p["name"].lower() == "if-match"]
    assert if_match["in"] == "header"
    assert if_match["required"] is True


async def test_a_generated_client_builds_without_warnings_and_works(
    platform: Platform, spec: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    # Certificates are PDFs: the generator knows binary bodies as octet-stream only, and
    # this is how a partner tells it to read a PDF as one.
    (tmp_path / "config.json").write_text(
        json.dumps({"content_type_overrides": {"application/pdf": "application/octet-stream"}})
    )
    out = tmp_path / "cb_client"
    run = subprocess.run(
        [str(GENERATOR), "generate", "--path", "spec.json", "--meta", "none",
         "--config", "config.json", "--output-path", str(out), "--fail-on-warning"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        # The generator formats what it writes with ruff, which lives beside it.
        env={**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "warning" not in (run.stdout + run.stderr).lower(), run.stdout + run.stderr

    sys.path.insert(0, str(tmp_path))
    try:
        client_mod = importlib.import_module("cb_client.client")
        clusters = importlib.import_module("cb_client.api.clusters")
        matching = importlib.import_module("cb_client.api.matching")
        models = importlib.import_module("cb_client.models")
        async with client_mod.AuthenticatedClient(
            base_url=platform.gateway_url, token=platform.keys["jp"]
        ) as client:
            await _use(client, clusters, matching, models)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "cb_client" or m.startswith("cb_client.")]:
            del sys.modules[name]


async def _use(client: Any, clusters: Any, matching: Any, models: Any) -> None:
    """Create two clusters, read one back, and judge one as the other's partner."""
    create = _function(clusters, "create_cluster")
    created = await create.asyncio_detailed(
        client=client, body=models.ClusterCreate.from_dict(cluster_payload("jp"))
    )
    assert created.status_code == 201, created.content
    cluster_id = created.parsed.id
    read = await _function(clusters, "get_cluster").asyncio(client=client, cluster_id=cluster_id)
    assert read.name == created.parsed.name

    # Feedback on a partner: the operation a generated client once dropped.
    other = await create.asyncio(
        client=client, body=models.ClusterCreate.from_dict(cluster_payload("jp"))
    )
    status = _function(matching, "index_status")

    async def both_indexed() -> int:
        answer = await status.asyncio_detailed(client=client)
        return int(json.loads(answer.content).get("profiles", 0))

    await eventually(both_indexed, until=lambda n: n >= 2, timeout=30)
    feedback = _function(matching, "give_feedback")

    async def give() -> int:
        body = models.FeedbackIn.from_dict(
            {"cluster_id": str(cluster_id), "other_id": str(other.id), "relevant": True}
        )
        answer = await feedback.asyncio_detailed(client=client, body=body)
        return int(answer.status_code)

    assert await eventually(give, until=lambda s: s != 404, timeout=30) == 201


def _function(module: Any, starts_with: str) -> Any:
    """The generated module of an operation (named after its operationId)."""
    package = Path(module.__file__).parent
    names = sorted(p.stem for p in package.glob(f"{starts_with}*.py"))
    assert names, f"no generated operation starting with {starts_with} in {package}"
    return importlib.import_module(f"{module.__name__}.{names[0]}")

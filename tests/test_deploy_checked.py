"""The deployment files are checked, not only written: every Kubernetes manifest
against the Kubernetes schemas (strict: an unknown field is an error), the
kustomization against the folder, the probes every workload needs, the NATS cluster
(R3) manifest against its configuration file, and the image's Dockerfile by hadolint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.local.servers import nats_server_binary

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33"  # the oldest minor still supported upstream when written
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def everything() -> list[dict[str, Any]]:
    return [d for p in MANIFESTS for d in documents(p)]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(path: Path) -> None:
    for doc in documents(path):
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {exc.message}")


def test_a_manifest_with_a_mistake_is_caught() -> None:
    """The validator is not a rubber stamp: a misspelt field fails."""
    deployment = next(d for d in documents(K8S / "gateway.yaml") if d["kind"] == "Deployment")
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_applies_every_manifest_but_the_migration_job() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"migrate-job.yaml"}


def test_every_workload_has_readiness_and_liveness_probes() -> None:
    for doc in everything():
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            name = f"{doc['kind']}/{doc['metadata']['name']}"
            assert "readinessProbe" in container, name
            assert "livenessProbe" in container, name
            if doc["kind"] == "Deployment":
                # /readyz: database, NATS, and the schema at the code's migrations.
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name


def test_the_nats_cluster_has_three_nodes_that_the_services_are_given() -> None:
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in everything()}
    nats = by_kind[("StatefulSet", "nats")]
    assert nats["spec"]["replicas"] == 3
    conf = by_kind[("ConfigMap", "nats-config")]["data"]["cluster.conf"]
    assert conf == (ROOT / "deploy" / "nats" / "cluster.conf").read_text()
    config = by_kind[("ConfigMap", "clusterbridge-config")]["data"]
    assert config["NATS_STREAM_REPLICAS"] == "3"
    assert config["NATS_URL"].split(",") == [f"nats://nats-{i}.nats:4222" for i in range(3)]
    for i in range(3):
        assert f"nats-route://nats-{i}.nats:6222" in conf


def test_the_nats_configuration_is_accepted_by_nats_server() -> None:
    result = subprocess.run(
        [str(nats_server_binary()), "-c", str(ROOT / "deploy" / "nats" / "cluster.conf"), "-t"],
        capture_output=True, text=True, timeout=30, check=False,
        env={**os.environ, "SERVER_NAME": "nats-0"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "deploy" / "docker" / "Dockerfile")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

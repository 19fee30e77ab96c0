"""The local stack on a 3-node NATS cluster (CLUSTERBRIDGE_NATS_NODES=3): streams at
three replicas, and creates keep being answered truly and done once while NATS nodes
are killed one after the other with SIGKILL (the supervisor brings each back)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import nats
import pytest

from tests.reliability.scenario import LocalStack, run_scenario, temporary_data_dir

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NODES = ("nats-0", "nats-1", "nats-2")


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[LocalStack]:
    with temporary_data_dir() as root:
        running = LocalStack(
            root, max_crashes=5, crash_window=600.0, extra_env={"CLUSTERBRIDGE_NATS_NODES": "3"}
        )
        try:
            await running.start()
            yield running
        finally:
            running.stop()


async def test_the_stack_runs_on_three_nats_nodes_with_replicated_streams(
    stack: LocalStack,
) -> None:
    components = stack.components()
    assert {n for n, c in components.items() if c.kind == "nats"} == set(NODES)
    nc = await nats.connect(stack.nats_url.split(","))
    try:
        info = await nc.jetstream().stream_info("REGISTRY")
    finally:
        await nc.close()
    assert info.config.num_replicas == 3
    assert info.cluster is not None
    assert len(info.cluster.replicas or []) == 2


async def test_creates_are_answered_truly_and_done_once_while_nats_nodes_die(
    stack: LocalStack,
) -> None:
    report = await run_scenario(
        stack, n=120, targets=NODES[:2], concurrency=8, give_up_after=45.0,
        converge_timeout=90.0,
    )  # fmt: skip
    print(json.dumps(report.summary(), indent=2))
    assert [f.target for f in report.faults] == list(NODES[:2])
    problems = report.problems()
    assert not problems, "\n".join(["", *problems])
    async with httpx.AsyncClient(base_url=stack.gateway_url) as c:
        assert (await c.get("/healthz")).status_code == 200

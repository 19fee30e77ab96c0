"""Issue 12's combined test: two replicas of every service on a 3-node NATS cluster,
under a bounded load of creates, meeting requests and match queries (each write with
its own Idempotency-Key), lose one NATS node and one replica of each service to SIGKILL
at the same moment; the supervisor brings them back while the other replicas carry on.

Then, from the outside: every acknowledged write exists once (and its key replays it);
every created profile reached every consumer group (the projection behind the match
index, the events directory) and the in-memory index of BOTH matching replicas; every
answer a client got was a 2xx, a 503 with Retry-After, or the documented 409 of a key
still in flight (which the client retries). Connection errors are not answers: a
killed gateway replica drops what it held, and the client retries with the same key.

It stops by itself (every wait has a deadline) and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from shared.identity import internal_headers
from tests.events.helpers import event_payload
from tests.reliability.scenario import (
    TENANT,
    CreateResult,
    EventCounter,
    LocalStack,
    cluster_body,
    create_with_retries,
    list_rows,
    poll,
    replay_all,
    temporary_data_dir,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# One NATS node and one replica of each service, killed together.
TARGETS = ("nats-1", "registry-2", "matching", "events-2", "web-2", "gateway")
MATCHING_REPLICAS = ("matching", "matching-2")
CREATES = 150
PARTICIPANTS = 8  # 28 meeting requests, one per pair
CONCURRENCY = 8
GIVE_UP_AFTER = 60.0


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[LocalStack]:
    with temporary_data_dir() as root:
        running = LocalStack(
            root,
            max_crashes=3,
            crash_window=600.0,
            extra_env={"CLUSTERBRIDGE_NATS_NODES": "3", "CLUSTERBRIDGE_REPLICAS": "2"},
        )
        try:
            await running.start()
            yield running
        finally:
            running.stop()


# --------------------------------------------------------------------------- answers


@dataclass
class Answers:
    """Every answer any client got, by kind of request, for the final check."""

    seen: dict[str, Counter[str]] = field(default_factory=dict)

    def note(self, kind: str, response: httpx.Response) -> None:
        self.seen.setdefault(kind, Counter())[self.describe(response)] += 1

    @staticmethod
    def describe(r: httpx.Response) -> str:
        if r.status_code == 503:
            return "503" if r.headers.get("retry-after") else "503 without Retry-After"
        if r.status_code == 409 and "idempotency-key-in-flight" in r.text:
            return "409 in flight"
        return str(r.status_code)

    def not_allowed(self) -> dict[str, dict[str, int]]:
        allowed = {"503", "409 in flight"}
        return {
            kind: {a: n for a, n in answers.items() if not (a.startswith("2") or a in allowed)}
            for kind, answers in self.seen.items()
            if any(not (a.startswith("2") or a in allowed) for a in answers)
        }


def recorded(answers: Answers, kind: str, http: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client that notes every answer it gets (the scenario's retry loop included)."""

    async def hook(response: httpx.Response) -> None:
        await response.aread()
        answers.note(kind, response)

    return httpx.AsyncClient(
        base_url=http.base_url,
        headers=http.headers,
        timeout=http.timeout,
        limits=httpx.Limits(max_connections=CONCURRENCY * 2),
        event_hooks={"response": [hook]},
    )


async def retried(
    http: httpx.AsyncClient, send: Callable[[], Awaitable[httpx.Response]]
) -> httpx.Response:
    """Setup steps: retried through a transport error or a 503, with a deadline."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    while True:
        try:
            r = await send()
            if r.status_code != 503:
                return r
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("setup request not answered within the deadline")
        await asyncio.sleep(0.2)  # retry pacing, bounded by the deadline


# --------------------------------------------------------------------------- setup


async def agency_key(setup: httpx.AsyncClient, operator_key: str) -> str:
    r = await setup.post(
        "/v1/clients",
        headers={"authorization": f"Bearer {operator_key}"},
        json={
            "tenant": TENANT, "name": "replicas under faults",
            "scopes": ["registry:read", "registry:write", "matching:read", "events:read",
                       "events:participate", "events:organise"],
            "rate_per_second": 100_000, "burst": 1_000_000,
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["api_key"])


def replica_client(stack: LocalStack, name: str) -> httpx.AsyncClient:
    """One replica alone, on its own port, as the gateway calls it."""
    token = (stack.data_dir / "internal-token").read_text().strip()
    return httpx.AsyncClient(
        base_url=stack.component(name).url,
        headers=internal_headers(token, TENANT, "matching:read events:read"),
        timeout=15.0,
    )


async def in_every_index(stack: LocalStack, ids: list[str]) -> dict[str, list[str]]:
    """Per matching replica, the ids its own index does not hold."""
    missing: dict[str, list[str]] = {}
    for name in MATCHING_REPLICAS:
        async with replica_client(stack, name) as c:
            for cluster_id in ids:
                r = await c.get(
                    f"/v1/matching/clusters/{cluster_id}/matches",
                    params={"limit": 1, "explain": "false"},
                )
                if r.status_code != 200:
                    missing.setdefault(name, []).append(cluster_id)
    return missing


async def in_events_directory(http: httpx.AsyncClient, ids: list[str]) -> list[str]:
    missing = []
    for cluster_id in ids:
        if (await http.get(f"/v1/events/clusters/{cluster_id}")).status_code != 200:
            missing.append(cluster_id)
    return missing


async def open_event(
    stack: LocalStack, http: httpx.AsyncClient, prefix: str
) -> tuple[str, list[str]]:
    """An event of ours open for requests, with PARTICIPANTS registered clusters that
    every matching replica already indexes."""
    r = await http.post("/v1/events", json=event_payload(title=f"{prefix} brokerage day"))
    assert r.status_code == 201, r.text
    event_id = str(r.json()["id"])
    transition = {"status": "registration"}
    r = await http.post(f"/v1/events/{event_id}/transitions", json=transition)
    assert r.status_code == 200, r.text
    clusters = []
    for i in range(PARTICIPANTS):
        body = cluster_body(f"{prefix}-p", i)
        r = await http.post("/v1/clusters", json=body)
        assert r.status_code == 201, r.text
        clusters.append(str(r.json()["id"]))

    async def known() -> bool:
        return not await in_events_directory(http, clusters)

    await poll("the events directory knowing the participants", known, 90.0, 0.25)
    for cluster_id in clusters:
        r = await http.post(f"/v1/events/{event_id}/participants", json={"cluster_id": cluster_id})
        assert r.status_code == 201, r.text
    r = await http.post(f"/v1/events/{event_id}/transitions", json={"status": "requests"})
    assert r.status_code == 200, r.text

    async def indexed() -> bool:
        return not await in_every_index(stack, clusters)

    await poll("both matching replicas indexing the participants", indexed, 90.0, 0.25)
    return event_id, clusters


# --------------------------------------------------------------------------- load


@dataclass
class MeetingResult:
    key: str
    sender: str
    receiver: str
    body: bytes
    status: int | None = None
    request_id: str | None = None
    attempts: list[str] = field(default_factory=list)


async def request_with_retries(http: httpx.AsyncClient, event_id: str, m: MeetingResult) -> None:
    """As a partner system does: the same key and body until an answer it can keep."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    headers = {"idempotency-key": m.key, "content-type": "application/json"}
    while time.monotonic() < deadline:
        try:
            r = await http.post(f"/v1/events/{event_id}/requests", content=m.body, headers=headers)
        except httpx.TransportError as exc:
            m.attempts.append(type(exc).__name__)
        else:
            m.attempts.append(Answers.describe(r))
            if r.status_code < 500 and Answers.describe(r) != "409 in flight":
                m.status = r.status_code
                m.request_id = str(r.json()["id"]) if r.status_code == 201 else None
                return
        await asyncio.sleep(0.2)  # retry pacing, as a real client does


async def query_matches(http: httpx.AsyncClient, clusters: list[str], stop: asyncio.Event) -> int:
    """Match queries until the writes are done; returns how many were answered."""
    answered = 0
    for cluster_id in itertools.cycle(clusters):
        if stop.is_set():
            return answered
        try:
            await http.get(f"/v1/matching/clusters/{cluster_id}/matches", params={"limit": 5})
            answered += 1
        except httpx.TransportError:
            await asyncio.sleep(0.1)  # a killed gateway replica: retry pacing
    return answered


# --------------------------------------------------------------------------- the test


async def test_two_replicas_of_everything_ride_out_a_node_and_a_replica_each_dying(
    stack: LocalStack,
) -> None:
    prefix = f"replicas-{uuid.uuid4().hex[:8]}"
    components = stack.components()
    assert {n for n in components if n.startswith("nats")} == {"nats-0", "nats-1", "nats-2"}
    for service in ("registry", "matching", "events", "web", "gateway"):
        assert {service, f"{service}-2"} <= set(components), sorted(components)
    timeout = httpx.Timeout(15.0, connect=2.0)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=timeout) as setup:
        key = await agency_key(setup, stack.operator_key())
    answers = Answers()
    auth = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=auth, timeout=timeout) as base:
        event_id, participants = await open_event(stack, base, prefix)
        baselines = {}
        for name in MATCHING_REPLICAS:
            async with replica_client(stack, name) as c:
                baselines[name] = int((await c.get("/v1/matching/status")).json()["profiles"])
        creates = [
            CreateResult(i, f"{prefix}-key-{i}", b["name"], b.get("external_id"), orjson.dumps(b))
            for i, b in ((i, cluster_body(prefix, i)) for i in range(CREATES))
        ]  # fmt: skip
        meetings = [
            MeetingResult(
                f"{prefix}-meet-{a}-{b}", participants[a], participants[b],
                orjson.dumps({"sender": participants[a], "receiver": participants[b],
                              "message": "Shall we meet?"}),
            )
            for a, b in itertools.combinations(range(PARTICIPANTS), 2)
        ]  # fmt: skip
        # Interleaved, so meeting requests meet the faults as creates do.
        jobs: list[CreateResult | MeetingResult] = [
            job
            for pair in itertools.zip_longest(creates, meetings)
            for job in pair
            if job is not None
        ]
        async with (
            recorded(answers, "create", base) as writes,
            recorded(answers, "meeting request", base) as meets,
            recorded(answers, "match query", base) as queries,
        ):
            queue = list(reversed(jobs))
            done = 0
            kill_at, admit_rest = len(jobs) // 3, asyncio.Event()
            third_done = asyncio.Event()
            started = time.monotonic()

            async def worker() -> None:
                nonlocal done
                while queue:
                    position = len(jobs) - len(queue)
                    job = queue.pop()
                    if position >= 2 * len(jobs) // 3:
                        # The last third only once every killed process is back, so the
                        # restarted replicas serve writes too.
                        await admit_rest.wait()
                    if isinstance(job, CreateResult):
                        await create_with_retries(writes, job, GIVE_UP_AFTER, started)
                    else:
                        await request_with_retries(meets, event_id, job)
                    done += 1
                    if done >= kill_at:
                        third_done.set()

            stop_queries = asyncio.Event()
            querying = asyncio.create_task(query_matches(queries, participants, stop_queries))
            workers = [asyncio.create_task(worker()) for _ in range(CONCURRENCY)]
            await asyncio.wait_for(third_done.wait(), GIVE_UP_AFTER * 2)
            restarts = {t: stack.component(t).restarts for t in TARGETS}
            for target in TARGETS:
                stack.kill(target)
            for target in TARGETS:
                await stack.wait_restarted(target, restarts[target], 150.0)
            recovered_after = time.monotonic() - started
            admit_rest.set()
            await asyncio.wait_for(asyncio.gather(*workers), GIVE_UP_AFTER * 3)
            stop_queries.set()
            matched = await querying

        # ---- every acknowledged write present once
        rows = await list_rows(base, prefix)
        ours = [r for r in rows if not str(r["name"]).startswith(f"{prefix}-p")]
        by_name = Counter(str(r["name"]) for r in ours)
        gave_up = [c.index for c in creates if c.status is None]
        assert not gave_up, f"creates never answered: {gave_up[:10]}"
        assert all(c.succeeded for c in creates), Counter(c.status for c in creates)
        assert {c.cluster_id for c in creates} == {str(r["id"]) for r in ours}
        assert max(by_name.values()) == 1, "a create was carried out twice"
        assert len(ours) == CREATES
        assert not await replay_all(base, creates, CONCURRENCY)
        assert all(m.status == 201 for m in meetings), [(m.status, m.attempts) for m in meetings]
        r = await base.get(f"/v1/events/{event_id}/requests")
        assert r.status_code == 200, r.text
        listed = Counter(
            frozenset((i["sender"]["cluster_id"], i["receiver"]["cluster_id"]))
            for i in r.json()["items"]
        )
        assert len(listed) == len(meetings)
        assert set(listed.values()) == {1}, "a meeting request was carried out twice"
        assert {str(i["id"]) for i in r.json()["items"]} == {m.request_id for m in meetings}
        for m in meetings[:5]:  # a replay answers the first answer, not a second request
            again = await base.post(
                f"/v1/events/{event_id}/requests",
                content=m.body,
                headers={"idempotency-key": m.key, "content-type": "application/json"},
            )
            assert again.status_code == 201
            assert str(again.json()["id"]) == m.request_id

        # ---- every event delivered to every consumer group, in effect once
        ids = [str(r["id"]) for r in ours]
        async with EventCounter(stack.nats_url, prefix) as events:

            async def all_delivered() -> bool:
                # The cheap checks first; one id at a time only once the counts agree.
                await events.catch_up()
                if not set(ids) <= events.ids:
                    return False
                for name in MATCHING_REPLICAS:
                    async with replica_client(stack, name) as c:
                        status = (await c.get("/v1/matching/status")).json()
                    if status["profiles"] - baselines[name] < CREATES:
                        return False
                return not await in_events_directory(base, ids) and not await in_every_index(
                    stack, ids
                )

            await poll("every consumer group having every profile", all_delivered, 120.0, 0.5)
        for name in MATCHING_REPLICAS:
            async with replica_client(stack, name) as c:
                status = (await c.get("/v1/matching/status")).json()
            # Its index holds ours and nothing twice; a restarted one rebuilt the same.
            assert status["profiles"] - baselines[name] == CREATES, (name, status)
            assert status["refused_count"] == 0, (name, status["refused"])

    # ---- no answer other than a 2xx, a 503 with Retry-After, or a key in flight
    summary = {
        "creates": CREATES, "meeting_requests": len(meetings), "match_queries": matched,
        "killed": list(TARGETS), "all_back_after_s": round(recovered_after, 1),
        "answers": {k: dict(v) for k, v in answers.seen.items()},
        "create_attempts": dict(Counter(a for c in creates for a in c.attempts)),
    }  # fmt: skip
    print(json.dumps(summary, indent=2))
    assert not answers.not_allowed(), answers.not_allowed()
    assert matched > 0
    states = {n: (c.state, c.restarts) for n, c in stack.components().items()}
    assert all(state == "running" for state, _ in states.values()), states
    assert all(states[t][1] >= 1 for t in TARGETS), states
    async with httpx.AsyncClient(base_url=stack.gateway_url) as c:
        health: dict[str, Any] = (await c.get("/healthz")).json()
    assert health["status"] == "ok", health

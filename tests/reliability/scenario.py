"""The fault scenario, shared by tests/reliability/test_faults.py and bench/faults.py.

A partner system creates N clusters through the gateway, each with its own
`Idempotency-Key`, retrying the same key and body on 5xx, 429, connection errors,
timeouts and "still in progress" until it gets a 2xx. Meanwhile each component of a
real local stack (`clusterbridge stack run`, every piece its own process under the
supervisor) is killed with SIGKILL, one after the other, and the supervisor restarts it.
Then the scenario checks, from the outside only:

- the registry holds exactly one row per create (read through the API; no duplicate
  by name or external_id);
- the REGISTRY stream holds a `registry.cluster.upserted` event for exactly those ids
  (a JetStream consumer of our own reads it);
- the match index holds as many profiles (GET /v1/matching/status);
- every answer the client got was true: a 2xx names a row that exists, with that id,
  and replaying the key returns the same id.

Creates are admitted in chunks so that faults always meet work in flight, however fast
or slow the machine: a fault fires once half of the current chunk is answered, the next
chunk is admitted once the component is back. Nothing waits on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import orjson
from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError

from deploy.local.servers import ChildProcess, tail
from deploy.local.stack import STATE_FILE, SUPERVISOR_LOG, Component, StackState

#: Every component, in the order the scenario kills them.
ALL_TARGETS = ("registry", "matching", "events", "gateway", "nats", "postgres")
TENANT = "jp"
# Variables of the caller's environment that would point the stack somewhere else.
_FOREIGN_ENV = ("DATABASE_URL", "NATS_URL", "INTERNAL_TOKEN", "CLUSTERBRIDGE_DATA_DIR")


class ScenarioError(RuntimeError):
    """The scenario could not run (stack did not start, a wait ran out)."""


async def poll(
    what: str,
    probe: Callable[[], object | Awaitable[object]],
    timeout: float,
    interval: float = 0.1,
) -> object:
    """Call `probe()` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise ScenarioError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(interval)  # pacing the poll, bounded by the deadline


# --------------------------------------------------------------------------- the stack


class LocalStack:
    """`clusterbridge stack run` on free ports in its own data folder, as a child
    process that dies with us."""

    def __init__(
        self,
        data_dir: Path,
        *,
        max_crashes: int = 5,
        crash_window: float = 60.0,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.console_log = data_dir / "console.log"
        self.max_crashes = max_crashes
        self.crash_window = crash_window
        self.extra_env = extra_env or {}
        self.process = ChildProcess("stack", self.console_log)

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _FOREIGN_ENV
            and not (k.startswith("CLUSTERBRIDGE_") and k.endswith("_PORT"))
        }
        env.update(CLUSTERBRIDGE_DEMO="0", LOG_LEVEL="WARNING", **self.extra_env)
        return env

    async def start(self, timeout: float = 300.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable, "-m", "deploy.cli", "stack", "run",
            "--data-dir", str(self.data_dir), "--free-ports",
            "--max-crashes", str(self.max_crashes),
            "--crash-window", str(self.crash_window),
        ]  # fmt: skip
        self.process.spawn(argv, env=self.env())

        def running() -> bool:
            if not self.process.is_running():
                raise ScenarioError(f"the stack exited during start-up:\n{self.console_tail()}")
            state = self.state()
            return state is not None and state.phase == "running"

        await poll("the stack starting", running, timeout, interval=0.25)

    def state(self) -> StackState | None:
        return StackState.load(self.data_dir / STATE_FILE)

    def components(self) -> dict[str, Component]:
        state = self.state()
        if state is None:
            raise ScenarioError("the stack's state file is gone")
        return {c.name: c for c in state.components}

    def component(self, name: str) -> Component:
        return self.components()[name]

    @property
    def gateway_url(self) -> str:
        """The public door: with gateway replicas, the port they share."""
        gateway = self.component("gateway")
        return gateway.public_url or gateway.url

    @property
    def nats_url(self) -> str:
        """The NATS server, or every node of a cluster comma-separated (nats-0, ...)."""
        nodes = [c.url for c in self.components().values() if c.kind == "nats"]
        return ",".join(nodes)

    def operator_key(self) -> str:
        return (self.data_dir / "operator-key").read_text().strip()

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> int:
        pid = self.component(name).pid
        if pid is None:
            raise ScenarioError(f"{name} has no pid to kill")
        os.kill(pid, sig)
        return pid

    async def wait_restarted(self, name: str, restarts_before: int, timeout: float) -> None:
        def back() -> bool:
            if not self.process.is_running():
                raise ScenarioError(f"the supervisor exited:\n{self.console_tail()}")
            comp = self.component(name)
            return comp.restarts > restarts_before and comp.state == "running"

        await poll(f"{name} restarted by the supervisor", back, timeout)

    def supervisor_log(self) -> str:
        try:
            return (self.data_dir / "logs" / SUPERVISOR_LOG).read_text()
        except OSError:
            return ""

    def console_tail(self, lines: int = 30) -> str:
        return tail(self.console_log, lines)

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def stop(self) -> None:
        """SIGTERM to the supervisor, which stops everything in order."""
        self.process.stop(signal.SIGTERM, timeout=90)


@contextlib.contextmanager
def temporary_data_dir(keep: bool = False) -> Iterator[Path]:
    # mkdtemp, not pytest's tmp_path: PostgreSQL runs as another user when we are root
    # and must traverse to its data folder (see tests/conftest.py).
    root = Path(tempfile.mkdtemp(prefix="cb-faults-"))
    try:
        yield root
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- the client


@dataclass
class CreateResult:
    index: int
    key: str
    name: str
    external_id: str | None
    body: bytes
    attempts: list[str] = field(default_factory=list)  # "201", "503", "ConnectError", ...
    status: int | None = None  # the final answer; None: never got one it could keep
    cluster_id: str | None = None
    replayed: bool = False
    problem_type: str | None = None
    # Seconds since the scenario began: first try, and the answer kept (or giving up).
    first_at: float | None = None
    last_at: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def cluster_body(prefix: str, i: int) -> dict[str, Any]:
    """A full, valid profile; every other one carries an external_id, so a second
    execution shows either as a duplicate row (no external_id) or as a 409 (with)."""
    words = ["battery", "hydrogen", "textile", "robotics", "photonics", "biotech", "agrifood"]
    a, b = words[i % len(words)], words[(i // len(words)) % len(words)]
    body: dict[str, Any] = {
        "name": f"{prefix} cluster {i:05d}",
        "country": "JP",
        "city": "Osaka",
        "description": f"Firms and labs working on {a} and {b} around Osaka Bay.",
        "ecosystems": ["energy-renewables"],
        "competences": [f"{a} engineering", f"{b} testing"],
        "offers": [f"{a} pilot line"],
        "needs": [f"{b} partners in Europe"],
    }
    if i % 2 == 0:
        body["external_id"] = f"{prefix}-{i:05d}"
    return body


def _is_retryable(status: int, problem_type: str | None) -> bool:
    if status >= 500 or status == 429:
        return True
    # The gateway's "a request with this key is still in progress": documented as retryable.
    return status == 409 and (problem_type or "").endswith("idempotency-key-in-flight")


def _problem_type(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    try:
        value = response.json().get("type")
    except ValueError:
        return None
    return str(value) if value else None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(float(response.headers["retry-after"]), 2.0)
    except (KeyError, ValueError):
        return None


async def create_with_retries(
    http: httpx.AsyncClient,
    result: CreateResult,
    give_up_after: float,
    started: float,
    aborted: Callable[[], bool] = lambda: False,
) -> None:
    deadline = time.monotonic() + give_up_after
    backoff = 0.05
    headers = {"idempotency-key": result.key, "content-type": "application/json"}
    result.first_at = time.monotonic() - started
    while not aborted():
        wait = backoff
        try:
            response = await http.post("/v1/clusters", content=result.body, headers=headers)
        except httpx.TransportError as exc:
            result.attempts.append(type(exc).__name__)
        else:
            problem = _problem_type(response)
            result.attempts.append(
                str(response.status_code) + (f":{problem.rsplit('/', 1)[-1]}" if problem else "")
            )
            if not _is_retryable(response.status_code, problem):
                result.last_at = time.monotonic() - started
                result.status = response.status_code
                result.problem_type = problem
                result.replayed = response.headers.get("idempotent-replayed") == "true"
                if result.succeeded:
                    result.cluster_id = str(response.json()["id"])
                return
            wait = _retry_after(response) or backoff
        if time.monotonic() + wait > deadline:
            result.last_at = time.monotonic() - started
            return  # gave up: status stays None
        await asyncio.sleep(wait)  # retry pacing, as a real client does
        backoff = min(backoff * 2, 1.0)
    result.last_at = time.monotonic() - started


class Admission:
    """Creates `i < admitted` may start; `done` counts answered ones; `aborted` stops
    the client (the stack is gone: retrying would only run out every create's clock)."""

    def __init__(self, admitted: int) -> None:
        self.admitted = admitted
        self.done = 0
        self.aborted = False
        self._changed = asyncio.Condition()

    async def abort(self) -> None:
        async with self._changed:
            self.aborted = True
            self.admitted = 1 << 62
            self._changed.notify_all()

    async def admit(self, upto: int) -> None:
        async with self._changed:
            self.admitted = max(self.admitted, upto)
            self._changed.notify_all()

    async def finished_one(self) -> None:
        async with self._changed:
            self.done += 1
            self._changed.notify_all()

    async def wait_admitted(self, i: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: i < self.admitted)

    async def wait_done(self, count: int, timeout: float) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.done >= count), timeout)


# --------------------------------------------------------------------------- the faults


@dataclass
class FaultRecord:
    target: str
    pid: int
    at: float  # seconds since the scenario began
    answered_before: int
    recovered_after: float | None = None  # seconds from the kill; None: never
    error: str | None = None


async def inject_faults(
    stack: LocalStack,
    targets: Sequence[str],
    admission: Admission,
    *,
    n: int,
    chunk: int,
    started: float,
    recover_timeout: float,
    answer_timeout: float,
) -> list[FaultRecord]:
    records: list[FaultRecord] = []
    try:
        for target in targets:
            # Half of the current chunk answered: the other half is in flight or queued.
            await admission.wait_done(max(admission.admitted - chunk // 2, 0), answer_timeout)
            before = stack.component(target).restarts
            killed_at = time.monotonic()
            record = FaultRecord(
                target, stack.kill(target), killed_at - started, admission.done
            )  # fmt: skip
            records.append(record)
            try:
                await stack.wait_restarted(target, before, recover_timeout)
            except ScenarioError as exc:
                record.error = str(exc)
                if stack.returncode is not None:
                    await admission.abort()
                break
            record.recovered_after = time.monotonic() - killed_at
            await admission.admit(min(admission.admitted + chunk, n))
    except TimeoutError:
        records.append(
            FaultRecord("(none)", 0, time.monotonic() - started, admission.done,
                        error=f"creates stopped being answered ({admission.done} of {n})")
        )  # fmt: skip
    finally:
        await admission.admit(n)  # whatever happened, let the client finish
    return records


# --------------------------------------------------------------------------- observing


@dataclass
class Observation:
    rows: list[dict[str, Any]]
    event_ids: set[str]
    upserted_messages: int
    index_profiles: int | None

    @property
    def row_ids(self) -> set[str]:
        return {str(r["id"]) for r in self.rows}

    def consistent(self, index_baseline: int) -> bool:
        return (
            self.row_ids == self.event_ids
            and self.index_profiles is not None
            and self.index_profiles - index_baseline == len(self.rows)
        )


async def list_rows(http: httpx.AsyncClient, prefix: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"tenant": TENANT, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = await http.get("/v1/clusters", params=params)
        response.raise_for_status()
        page = response.json()
        rows += [r for r in page["items"] if str(r["name"]).startswith(prefix)]
        cursor = page.get("next_cursor")
        if not cursor:
            return rows


async def index_size(http: httpx.AsyncClient) -> int | None:
    response = await http.get("/v1/matching/status")
    if response.status_code != 200:
        return None
    return int(response.json()["profiles"])


class EventCounter:
    """Our own JetStream consumer of `registry.cluster.upserted`, from the start of the
    stream: the distinct cluster ids of this run's creates."""

    def __init__(self, nats_url: str, prefix: str) -> None:
        self.nats_url = nats_url
        self.prefix = prefix
        self.ids: set[str] = set()
        self.messages = 0
        self._nc: NATS | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    async def __aenter__(self) -> EventCounter:
        servers = [u for u in self.nats_url.split(",") if u]
        self._nc = await nats.connect(servers, connect_timeout=5)
        await self._subscribe()
        return self

    async def _subscribe(self, within: float = 60.0) -> None:
        # A NATS cluster that has just formed may not answer the JetStream API yet (no
        # meta leader): ask again until it does. An ephemeral consumer a timed-out call
        # made after all expires unused (inactive_threshold).
        assert self._nc is not None
        js = self._nc.jetstream()
        deadline = time.monotonic() + within
        while True:
            try:
                self._sub = await js.pull_subscribe(
                    "registry.cluster.upserted",
                    stream="REGISTRY",
                    config=ConsumerConfig(
                        deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT,
                        inactive_threshold=300.0,
                    ),
                )  # fmt: skip
                return
            except (NatsTimeoutError, APIError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)  # poll interval, as tests.harness.eventually

    async def __aexit__(self, *exc: object) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        if self._nc is not None:
            await self._nc.close()

    async def catch_up(self) -> None:
        """Read what the stream holds now."""
        assert self._sub is not None, "use it as `async with`"
        while True:
            try:
                msgs = await self._sub.fetch(1000, timeout=0.5)
            except (NatsTimeoutError, TimeoutError):
                return
            except APIError:
                # On a cluster, this ephemeral consumer may have lived on a node that
                # was killed: read the stream again from its start with a new one.
                with contextlib.suppress(Exception):
                    await self._sub.unsubscribe()
                self.ids.clear()
                self.messages = 0
                await self._subscribe()
                continue
            for msg in msgs:
                data = orjson.loads(msg.data).get("data", {})
                if str(data.get("name", "")).startswith(self.prefix):
                    self.messages += 1
                    self.ids.add(str(data["id"]))
                await msg.ack()


# --------------------------------------------------------------------------- the report


@dataclass
class Report:
    n: int
    creates: list[CreateResult]
    faults: list[FaultRecord]
    final: Observation | None
    index_baseline: int
    # Seconds since the scenario began.
    last_answer_at: float
    converged_at: float | None  # rows, events and index agreed; None: not by the deadline
    replay_mismatches: list[str] = field(default_factory=list)

    @property
    def converge_seconds(self) -> float | None:
        """From the last kill to everything consistent (all answers in, too)."""
        if self.converged_at is None or not self.faults:
            return None
        return self.converged_at - max(f.at for f in self.faults)

    @property
    def settle_seconds(self) -> float | None:
        """From the last answer to rows, events and index agreeing."""
        return None if self.converged_at is None else self.converged_at - self.last_answer_at

    def answers_by_status(self) -> Counter[str]:
        return Counter(str(c.status) if c.status is not None else "gave up" for c in self.creates)

    def attempts_by_outcome(self) -> Counter[str]:
        return Counter(a for c in self.creates for a in c.attempts)

    def _rows_by(self, key: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.final.rows if self.final else []:
            if row.get(key) is not None:
                out.setdefault(str(row[key]), []).append(row)
        return out

    def duplicates(self) -> dict[str, int]:
        """Rows beyond the first, by name and by external_id."""
        return {
            key: sum(len(rows) - 1 for rows in self._rows_by(key).values())
            for key in ("name", "external_id")
        }

    def lost(self) -> list[CreateResult]:
        """A 2xx whose id names no row: acknowledged and lost."""
        ids = self.final.row_ids if self.final else set()
        return [c for c in self.creates if c.succeeded and c.cluster_id not in ids]

    def untrue(self) -> list[str]:
        """Every answer that does not match what the registry holds."""
        by_name = self._rows_by("name")
        out = []
        for c in self.creates:
            rows = by_name.get(c.name, [])
            if c.succeeded:
                if c.cluster_id not in {str(r["id"]) for r in rows}:
                    out.append(f"#{c.index}: {c.status} id {c.cluster_id}, but no such row")
            elif c.status is not None and rows:
                out.append(
                    f"#{c.index}: answered {c.status} {c.problem_type or ''}, yet its row "
                    f"{rows[0]['id']} exists (attempts: {' '.join(c.attempts)})"
                )
        return out

    def near_fault(self, c: CreateResult) -> str:
        """The fault nearest in time to this create's tries: the likely cause of what
        went wrong with it (a 201 lost to a kill arrives just before the kill)."""
        first = c.first_at or 0.0
        last = c.last_at if c.last_at is not None else first

        def distance(f: FaultRecord) -> float:
            return 0.0 if first <= f.at <= last else min(abs(f.at - first), abs(f.at - last))

        if not self.faults:
            return "no fault"
        return f"{min(self.faults, key=distance).target} kill"

    def by_fault(self, creates: Sequence[CreateResult]) -> str:
        return ", ".join(f"{k}: {v}" for k, v in Counter(map(self.near_fault, creates)).items())

    def problems(self) -> list[str]:
        out: list[str] = []
        for f in self.faults:
            if f.error:
                out.append(f"fault {f.target}: {f.error}")
        gave_up = [c for c in self.creates if c.status is None]
        if gave_up:
            names = {str(r["name"]) for r in self.final.rows} if self.final else set()
            executed = sum(c.name in names for c in gave_up)
            last = Counter(c.attempts[-1] for c in gave_up if c.attempts)
            out.append(
                f"{len(gave_up)} creates never got an answer to keep, {executed} of them "
                f"executed (last try answered {dict(last)}; near {self.by_fault(gave_up)})"
            )
        refused = [c for c in self.creates if c.status is not None and not c.succeeded]
        if refused:
            out.append(f"{len(refused)} creates refused: {Counter(str(c.status) for c in refused)}")
        if self.final is None:
            return [*out, "nothing observed"]
        rows = len(self.final.rows)
        if rows != self.n:
            out.append(f"{rows} rows for {self.n} creates")
        for key, extra in self.duplicates().items():
            if extra:
                out.append(f"{extra} duplicate rows by {key}")
        if len(self.final.event_ids) != self.n:
            out.append(f"{len(self.final.event_ids)} distinct upserted ids for {self.n} creates")
        if self.final.event_ids != self.final.row_ids:
            out.append(
                f"events and rows differ: {len(self.final.row_ids - self.final.event_ids)} rows "
                f"without an event, {len(self.final.event_ids - self.final.row_ids)} events "
                "without a row"
            )
        index = self.final.index_profiles
        if index is None or index - self.index_baseline != self.n:
            out.append(f"match index holds {index} profiles (baseline {self.index_baseline})")
        lost = self.lost()
        if lost:
            out.append(f"{len(lost)} acknowledged creates lost (near {self.by_fault(lost)}): "
                       + ", ".join(f"#{c.index} {c.status} {c.cluster_id}" for c in lost[:5]))  # fmt: skip
        untrue = self.untrue()
        if untrue:
            out.append(f"{len(untrue)} untrue answers: " + "; ".join(untrue[:5]))
        if self.replay_mismatches:
            out.append(
                f"{len(self.replay_mismatches)} replays differ: "
                + "; ".join(self.replay_mismatches[:5])
            )
        if self.converged_at is None:
            out.append("rows, events and index never agreed")
        # Under faults a documented 502/503/504 is fine; a 500 is a bug somewhere.
        server_errors = Counter(a for c in self.creates for a in c.attempts if a.startswith("500"))
        if server_errors:
            out.append(f"server errors while components were down: {dict(server_errors)}")
        return out

    def summary(self) -> dict[str, Any]:
        final = self.final
        return {
            "creates": self.n,
            "answers_by_status": dict(self.answers_by_status()),
            "attempts_by_outcome": dict(self.attempts_by_outcome().most_common()),
            "rows": len(final.rows) if final else None,
            "events_distinct_ids": len(final.event_ids) if final else None,
            "upserted_messages": final.upserted_messages if final else None,
            "index_profiles": (
                final.index_profiles - self.index_baseline
                if final and final.index_profiles is not None
                else None
            ),
            "duplicates": self.duplicates(),
            "lost": len(self.lost()),
            "untrue_answers": len(self.untrue()),
            "replay_mismatches": len(self.replay_mismatches),
            "converge_seconds": (
                None if self.converge_seconds is None else round(self.converge_seconds, 2)
            ),
            "settle_seconds": (
                None if self.settle_seconds is None else round(self.settle_seconds, 2)
            ),
            "create_phase_seconds": round(self.last_answer_at, 1),
            "faults": [
                {
                    "target": f.target,
                    "at_s": round(f.at, 1),
                    "answered_before": f.answered_before,
                    "back_after_s": None
                    if f.recovered_after is None
                    else round(f.recovered_after, 1),
                    **({"error": f.error} if f.error else {}),
                }
                for f in self.faults
            ],
        }


# --------------------------------------------------------------------------- the run


async def agency_key(http: httpx.AsyncClient, operator_key: str) -> str:
    """An API key of the jp agency with a rate limit the client never reaches: the
    scenario is about faults, not about 429s."""
    response = await http.post(
        "/v1/clients",
        headers={"authorization": f"Bearer {operator_key}"},
        json={
            "tenant": TENANT, "name": "fault scenario",
            "scopes": ["registry:read", "registry:write", "matching:read"],
            "rate_per_second": 100_000, "burst": 1_000_000,
        },
    )  # fmt: skip
    response.raise_for_status()
    return str(response.json()["api_key"])


async def replay_all(
    http: httpx.AsyncClient, creates: Sequence[CreateResult], concurrency: int
) -> list[str]:
    """Send every answered key once more: the first answer must come back, never a
    second execution."""
    mismatches: list[str] = []
    queue = [c for c in creates if c.succeeded]

    async def worker() -> None:
        while queue:
            c = queue.pop()
            headers = {"idempotency-key": c.key, "content-type": "application/json"}
            try:
                r = await http.post("/v1/clusters", content=c.body, headers=headers)
            except httpx.TransportError as exc:
                mismatches.append(f"#{c.index}: replay failed ({type(exc).__name__})")
                continue
            replayed_id = r.json().get("id") if r.status_code < 300 else None
            if r.status_code != c.status or str(replayed_id) != c.cluster_id:
                mismatches.append(
                    f"#{c.index}: first {c.status} {c.cluster_id}, replay {r.status_code} "
                    f"{replayed_id}"
                )
            elif r.headers.get("idempotent-replayed") != "true":
                mismatches.append(f"#{c.index}: same answer, but not marked as a replay")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return mismatches


async def run_scenario(
    stack: LocalStack,
    *,
    n: int,
    targets: Sequence[str] = ALL_TARGETS,
    concurrency: int = 8,
    give_up_after: float = 60.0,
    recover_timeout: float = 180.0,
    converge_timeout: float = 90.0,
    replay: bool = True,
) -> Report:
    """Run the scenario against a started stack; returns what it saw."""
    prefix = f"faults-{uuid.uuid4().hex[:8]}"
    timeout = httpx.Timeout(15.0, connect=2.0)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=timeout) as setup:
        key = await agency_key(setup, stack.operator_key())
    auth = {"authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers=auth, timeout=timeout, limits=limits
    ) as http:
        index_baseline = await index_size(http) or 0
        creates = [
            CreateResult(i, f"{prefix}-key-{i}", body["name"], body.get("external_id"),
                         orjson.dumps(body))
            for i, body in ((i, cluster_body(prefix, i)) for i in range(n))
        ]  # fmt: skip
        chunk = max(n // (len(targets) + 1), 1)
        admission = Admission(admitted=chunk if targets else n)
        started = time.monotonic()
        pending = list(reversed(creates))

        async def worker() -> None:
            while pending and not admission.aborted:
                c = pending.pop()
                await admission.wait_admitted(c.index)
                await create_with_retries(
                    http, c, give_up_after, started, lambda: admission.aborted
                )
                await admission.finished_one()

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        faults = await inject_faults(
            stack, targets, admission, n=n, chunk=chunk, started=started,
            recover_timeout=recover_timeout, answer_timeout=give_up_after * 2 + 60,
        )  # fmt: skip
        await asyncio.gather(*workers)
        last_answer_at = time.monotonic() - started

        final: Observation | None = None
        converged_at: float | None = None
        if admission.aborted:
            return Report(
                n=n, creates=creates, faults=faults, final=None, index_baseline=index_baseline,
                last_answer_at=last_answer_at, converged_at=None,
            )  # fmt: skip
        async with EventCounter(stack.nats_url, prefix) as events:
            deadline = time.monotonic() + converge_timeout
            while True:
                await events.catch_up()
                final = Observation(
                    await list_rows(http, prefix), set(events.ids), events.messages,
                    await index_size(http),
                )  # fmt: skip
                if final.consistent(index_baseline):
                    converged_at = time.monotonic() - started
                    break
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.25)  # pacing the poll, bounded by the deadline
        mismatches = await replay_all(http, creates, concurrency) if replay else []
    return Report(
        n=n, creates=creates, faults=faults, final=final, index_baseline=index_baseline,
        last_answer_at=last_answer_at, converged_at=converged_at, replay_mismatches=mismatches,
    )  # fmt: skip

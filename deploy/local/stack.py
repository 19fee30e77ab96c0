"""The whole platform on one machine: `clusterbridge stack run` (what `make run` does).

One supervisor process starts PostgreSQL and NATS (unless DATABASE_URL / NATS_URL point
elsewhere), migrates, starts the four services as uvicorn processes, then keeps them
running: a component that dies is restarted with backoff (same port, same data folder),
and the stack gives up, stopping everything in reverse order, only when one keeps
crashing. Ctrl-C / SIGTERM stops it all. What it started, and how often each piece was
restarted, is written to `<data dir>/stack.json`, which `stack status` and `stack stop`
read; restarts are also logged to `<data dir>/logs/supervisor.log`.

Ports come from options or `CLUSTERBRIDGE_<NAME>_PORT` variables (0: any free port), so
a test can run a whole stack beside `make run`'s defaults.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
from rich.console import Console

from deploy.local.servers import (
    LOOPBACK,
    ChildProcess,
    EmbeddedNats,
    EmbeddedNatsCluster,
    EmbeddedPostgres,
    ServerStartError,
    free_port,
    nats_reachable,
    tail,
    wait_until,
)
from deploy.local.supervisor import GiveUp, RestartPolicy, Supervised, Supervisor, Unit

SERVICE_START_TIMEOUT = 120.0  # first start imports scikit-learn and OR-Tools on 2 cores
SUPERVISION_TICK = 0.2  # seconds between checks; a crash is noticed within one tick
STATE_FILE = "stack.json"
SUPERVISOR_LOG = "supervisor.log"
TOKEN_FILE = "internal-token"  # noqa: S105 - a file name, not a secret
OPERATOR_KEY_FILE = "operator-key"
FIRST_ADMIN_FILE = "first-admin-invitation"

Kind = Literal["postgres", "nats", "http"]
# Started before the gateway, in parallel; the web app only calls the gateway at request time.
BACKEND_NAMES = ("registry", "matching", "events", "web")


@dataclass(frozen=True)
class StackPorts:
    """Where each component listens; `make run` keeps these defaults."""

    gateway: int = 8000
    registry: int = 8001
    matching: int = 8002
    events: int = 8003
    postgres: int = 54329
    nats: int = 4229
    nats_monitor: int = 8229
    web: int = 8004
    smtp: int = 8025

    @staticmethod
    def env_name(component: str) -> str:
        return f"CLUSTERBRIDGE_{component.upper()}_PORT"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: int | None) -> StackPorts:
        """Defaults, then `CLUSTERBRIDGE_<NAME>_PORT` variables, then explicit values."""
        env = os.environ if env is None else env
        chosen: dict[str, int] = {}
        for f in fields(cls):
            value = overrides.get(f.name)
            raw = env.get(cls.env_name(f.name))
            if value is None and raw:
                try:
                    value = int(raw)
                except ValueError:
                    raise StackError(f"{cls.env_name(f.name)} must be a port number") from None
            if value is not None:
                if not 0 <= value <= 65535:
                    raise StackError(f"port for {f.name} out of range: {value}")
                chosen[f.name] = value
        return cls(**chosen)

    def resolved(self) -> StackPorts:
        """0 means "any free port": pick them once, so restarts keep the same ones."""
        return replace(
            self, **{f.name: free_port() for f in fields(self) if getattr(self, f.name) == 0}
        )


@dataclass(frozen=True)
class ServiceSpec:
    """One process of a service: `registry` (the first replica) or `registry-2`, ...."""

    service: str
    port: int
    replica: int = 1
    # A gateway replica of several: the fd of the public socket they share, whose port
    # this is the URL of (`url` stays the replica's own port).
    shared_fd: int | None = None
    public_port: int | None = None

    @property
    def name(self) -> str:
        return self.service if self.replica == 1 else f"{self.service}-{self.replica}"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def public_url(self) -> str | None:
        return None if self.public_port is None else f"http://{LOOPBACK}:{self.public_port}"


def backend_specs(ports: StackPorts, replicas: int = 1) -> tuple[ServiceSpec, ...]:
    """Every backend process: the first replica of each on its configured port, the
    others on free ports."""
    return tuple(
        ServiceSpec(name, getattr(ports, name) if r == 1 else free_port(), r)
        for name in BACKEND_NAMES
        for r in range(1, replicas + 1)
    )


def gateway_spec(ports: StackPorts) -> ServiceSpec:
    return ServiceSpec("gateway", ports.gateway)


MAX_REPLICAS = 8


def replica_count(raw: str | None = None) -> int:
    """How many processes of each service: CLUSTERBRIDGE_REPLICAS (default 1)."""
    raw = os.environ.get("CLUSTERBRIDGE_REPLICAS", "1") if raw is None else raw
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_REPLICAS:
        raise StackError(f"CLUSTERBRIDGE_REPLICAS must be 1 to {MAX_REPLICAS}, not {raw!r}")
    return n


def nats_nodes() -> int:
    """How many NATS nodes the local stack runs: 1, or a cluster of 3 (or 5) with
    CLUSTERBRIDGE_NATS_NODES (an odd number: JetStream needs a majority up)."""
    raw = os.environ.get("CLUSTERBRIDGE_NATS_NODES", "1")
    if raw not in ("1", "3", "5"):
        raise SystemExit(f"CLUSTERBRIDGE_NATS_NODES must be 1, 3 or 5, not {raw!r}")
    return int(raw)


def default_data_dir() -> Path:
    return Path(os.environ.get("CLUSTERBRIDGE_DATA_DIR", "var"))


# --------------------------------------------------------------------------- state file


@dataclass
class Component:
    name: str
    kind: Kind
    url: str
    pid: int | None = None
    # With the pid, tells "our process" from "a later process that reused the pid".
    create_time: float | None = None
    log: str | None = None
    # A gateway replica of several: the shared public address (`url` is its own).
    public_url: str | None = None
    # Supervision: "running", or "restarting" between a crash and being ready again.
    state: str = "running"
    restarts: int = 0
    last_exit: str | None = None  # how it last died, e.g. "killed by SIGKILL"


@dataclass
class StackState:
    supervisor_pid: int
    supervisor_create_time: float
    data_dir: str
    started_at: str
    # "starting" until every component is up, so `status` does not call a stack that
    # is still migrating healthy.
    phase: Literal["starting", "running"] = "starting"
    components: list[Component] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> StackState | None:
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
            comps = [Component(**c) for c in raw.pop("components", [])]
            return cls(**raw, components=comps)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        # 0600 and atomic: it can hold a DATABASE_URL password, and `status` may read it
        # while we write.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(self), fh, indent=2)
        tmp.replace(path)


def _process(pid: int | None, create_time: float | None) -> psutil.Process | None:
    """The process if it is still the one we recorded, else None."""
    if pid is None:
        return None
    try:
        proc = psutil.Process(pid)
        if create_time is not None and abs(proc.create_time() - create_time) > 1.0:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def _create_time(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def mask_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    path.chmod(0o600)  # O_CREAT's mode does not apply to a file that already existed


# --------------------------------------------------------------------------- health


def http_health(url: str, timeout: float = 2.0) -> httpx.Response | None:
    """The service's /healthz answer, or None when nothing answers."""
    try:
        return httpx.get(f"{url}/healthz", timeout=timeout)
    except httpx.HTTPError:
        return None


def http_healthy(url: str, timeout: float = 2.0) -> bool:
    answer = http_health(url, timeout)
    return answer is not None and answer.status_code == 200


def postgres_healthy(url: str, timeout: float = 3.0) -> bool:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    async def probe() -> bool:
        engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": timeout})
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text("SELECT 1"))).scalar() == 1
        finally:
            await engine.dispose()

    try:
        return asyncio.run(asyncio.wait_for(probe(), timeout + 1))
    except Exception:  # any failure to answer is "unhealthy", which is what we report
        return False


def component_healthy(comp: Component) -> bool:
    if comp.pid is not None and _process(comp.pid, comp.create_time) is None:
        return False
    if comp.kind == "http":
        return http_healthy(comp.url)
    if comp.kind == "postgres":
        return postgres_healthy(comp.url)
    return nats_reachable(comp.url)


# --------------------------------------------------------------------------- supervisor


class StopRequested(BaseException):
    """Raised from the SIGINT/SIGTERM handler; BaseException so no `except Exception`
    on the way (a library, a retry loop) swallows the user's Ctrl-C."""


class StackError(Exception):
    """A step failed; the stack shuts down what it started."""


class ServiceProcess:
    """One uvicorn process of a service, which the supervisor may launch again and
    again (same port, same environment). A `Unit` for `deploy.local.supervisor`."""

    def __init__(self, spec: ServiceSpec, env: Mapping[str, str], log_path: Path) -> None:
        self.spec = spec
        self.env = dict(env)
        self.process = ChildProcess(spec.name, log_path)

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def is_running(self) -> bool:
        return self.process.is_running()

    def argv(self) -> list[str]:
        if self.spec.shared_fd is not None:
            return [
                sys.executable, "-m", "deploy.local.serve",
                f"services.{self.spec.service}.main:create_app",
                "--port", str(self.spec.port), "--shared-fd", str(self.spec.shared_fd),
            ]  # fmt: skip
        return [
            sys.executable,
            "-m",
            "uvicorn",
            f"services.{self.spec.service}.main:create_app",
            "--factory",
            "--host",
            LOOPBACK,
            "--port",
            str(self.spec.port),
            "--no-access-log",
            # Bounded, so Ctrl-C never hangs on a client holding a connection open.
            "--timeout-graceful-shutdown",
            "5",
        ]

    def launch(self) -> None:
        fds = () if self.spec.shared_fd is None else (self.spec.shared_fd,)
        self.process.spawn(self.argv(), env=self.env, pass_fds=fds)

    def ready(self) -> bool:
        # Any answer counts (uvicorn answers only once its lifespan start-up finished):
        # the gateway's /healthz says 503 while a service it proxies to is missing.
        return http_health(self.spec.url, timeout=0.5) is not None

    def send_signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def stop(self) -> None:
        self.process.stop(signal.SIGTERM, timeout=15)


class Stack:
    def __init__(
        self,
        data_dir: Path,
        console: Console | None = None,
        *,
        ports: StackPorts | None = None,
        policy: RestartPolicy | None = None,
        replicas: int | None = None,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.logs_dir = self.data_dir / "logs"
        self.console = console or Console(highlight=False)
        self.state_path = self.data_dir / STATE_FILE
        self.ports = (ports or StackPorts.from_env()).resolved()
        self.policy = policy or RestartPolicy(start_timeout=SERVICE_START_TIMEOUT)
        self.gateway = gateway_spec(self.ports)
        self.replicas = replica_count() if replicas is None else replicas
        # Chosen once, so a restarted replica comes back on the same port.
        self.backends = backend_specs(self.ports, self.replicas)
        self._public_socket: socket.socket | None = None
        self._postgres: EmbeddedPostgres | None = None
        self._nats: EmbeddedNats | EmbeddedNatsCluster | None = None
        self._services: list[ServiceProcess] = []
        self._supervisor = Supervisor(
            [], self.policy, say=self._say, changed=self._changed, log_tail=self._log_tail
        )
        self._state: StackState | None = None
        self._stopping = False
        self._mail: Any = None  # aiosmtpd's Controller, when the stack runs the mail sink

    # -- entry point

    def run(self) -> int:
        """Start everything, then supervise until a signal, or until one component
        keeps crashing."""
        self._refuse_second_stack()
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self._start_all()
            return self._supervise()
        except StopRequested:
            self._log_line("info", "stop requested")
            return 0
        except GiveUp as exc:
            self._say("error", f"{exc}. Shutting down.")
            return 1
        except (StackError, ServerStartError) as exc:
            self.console.print(f"[red]✗ {exc}[/]")
            self._log_line("error", str(exc))
            return 1
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            self.console.print("[yellow]already stopping…[/]")
            return
        raise StopRequested

    # -- start-up

    def _refuse_second_stack(self) -> None:
        state = StackState.load(self.state_path)
        if state and _process(state.supervisor_pid, state.supervisor_create_time):
            raise SystemExit(
                f"a stack is already running from {self.data_dir} "
                f"(pid {state.supervisor_pid}); stop it with `clusterbridge stack stop`"
            )

    @contextmanager
    def _step(self, doing: str) -> Iterator[None]:
        started = time.monotonic()
        with self.console.status(f"{doing}…"):
            yield
        self.console.print(f"[green]✓[/] {doing} [dim]({time.monotonic() - started:.1f}s)[/]")

    def _start_all(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        me = psutil.Process()
        self._state = StackState(
            supervisor_pid=me.pid,
            supervisor_create_time=me.create_time(),
            data_dir=str(self.data_dir),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._save_state()
        self._log_line("info", f"stack starting from {self.data_dir} (pid {me.pid})")

        database_url = self._start_postgres()
        nats_url = self._start_nats()
        self._start_mail_sink()
        with self._step("Applying database migrations"):
            self._migrate(database_url)
        token = self._internal_token()
        env = self._service_env(database_url, nats_url, token)

        backends = [spec for spec in self.backends if self._service_exists(spec)]
        with self._step(f"Starting {', '.join(s.name for s in backends) or 'no services'}"):
            # In parallel: each import of scikit-learn / OR-Tools takes seconds.
            started = [self._spawn_service(spec, env) for spec in backends]
            for svc in started:
                self._wait_healthy(svc)
        gateway_up = False
        if self._service_exists(self.gateway):
            # Last, because it proxies to (and may read the OpenAPI of) the others.
            gateways = self._gateway_replicas()
            what = "gateway" if len(gateways) == 1 else f"{len(gateways)} gateway replicas"
            with self._step(f"Starting {what} on {self.gateway.url}"):
                gateway_env = self._gateway_env(env)
                for svc in [self._spawn_service(spec, gateway_env) for spec in gateways]:
                    self._wait_healthy(svc)
            gateway_up = True

        with self._step("Checking the operator API key"):
            operator_key = self._operator_key(database_url)
        if gateway_up and operator_key:
            self._load_demo(operator_key)
        first_admin = self._first_admin(database_url) if gateway_up else None
        assert self._state is not None
        self._state.phase = "running"
        self._save_state()
        self._log_line("info", "stack running")
        self._print_summary(gateway_up, operator_key, first_admin)

    def _gateway_replicas(self) -> list[ServiceSpec]:
        """One gateway on the public port; or, with replicas, each on a port of its own
        and all on one listening socket of the public port, bound here and inherited
        (deploy.local.serve says why one shared socket)."""
        if self.replicas == 1:
            return [self.gateway]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, self.gateway.port))
        except OSError as exc:
            sock.close()
            raise StackError(f"cannot listen on {self.gateway.url}: {exc}") from exc
        sock.listen(2048)
        sock.set_inheritable(True)
        self._public_socket = sock
        return [
            ServiceSpec(
                "gateway", free_port(), r, shared_fd=sock.fileno(), public_port=self.gateway.port
            )
            for r in range(1, self.replicas + 1)
        ]

    def _start_mail_sink(self) -> None:
        """Mail goes to files under var/mail/ (unless SMTP_URL names a real server)."""
        if os.environ.get("SMTP_URL"):
            return
        from aiosmtpd.controller import Controller

        from deploy.local.mailsink import MailFolder

        folder = self.data_dir / "mail"
        with self._step(f"Starting the mail sink on {LOOPBACK}:{self.ports.smtp} ({folder})"):
            self._mail = Controller(MailFolder(folder), hostname=LOOPBACK, port=self.ports.smtp)
            self._mail.start()

    def _first_admin(self, database_url: str) -> str | None:
        """On the first start, invite the first agency admin and return the link."""
        from services.gateway.bootstrap import invite_first_admin

        tenant = os.environ.get("CLUSTERBRIDGE_ADMIN_TENANT", "eu")
        email = os.environ.get("CLUSTERBRIDGE_ADMIN_EMAIL", "admin@eu.example")
        public = os.environ.get("PUBLIC_URL", self.gateway.url)
        try:
            link = invite_first_admin(database_url, public, tenant, email)
        except Exception as exc:  # the pages can wait; the API works without them
            self._warn(f"first admin not invited: {exc}")
            return None
        path = self.data_dir / FIRST_ADMIN_FILE
        if link:
            _write_secret(path, f"{email}\n{link}\n")
            return link
        return path.read_text().split("\n")[1] if path.exists() else None

    def _start_postgres(self) -> str:
        external = os.environ.get("DATABASE_URL")
        if external:
            self.console.print(f"[green]✓[/] Using PostgreSQL at {mask_password(external)}")
            self._record(Component("postgres", "postgres", external))
            return external
        port = self.ports.postgres
        self._postgres = EmbeddedPostgres(
            self.data_dir / "postgres", port, log_path=self.logs_dir / "postgres.log"
        )
        with self._step(f"Starting PostgreSQL on {LOOPBACK}:{port}"):
            self._postgres.start()
        self._supervise_unit("postgres", self._postgres)
        pid = self._postgres.pid
        self._record(
            Component(
                "postgres",
                "postgres",
                self._postgres.url,
                pid,
                _create_time(pid),
                str(self._postgres.log_path),
            )
        )
        return self._postgres.url

    def _start_nats(self) -> str:
        external = os.environ.get("NATS_URL")
        if external:
            self.console.print(f"[green]✓[/] Using NATS at {mask_password(external)}")
            self._record(Component("nats", "nats", external))
            return external
        port = self.ports.nats
        nodes = nats_nodes()
        if nodes > 1:
            return self._start_nats_cluster(nodes)
        self._nats = EmbeddedNats(
            self.data_dir / "nats",
            port,
            self.ports.nats_monitor,
            log_path=self.logs_dir / "nats.log",
        )
        with self._step(f"Starting NATS (JetStream) on {LOOPBACK}:{port}"):
            self._nats.start()
        self._supervise_unit("nats", self._nats)
        pid = self._nats.pid
        self._record(
            Component(
                "nats", "nats", self._nats.url, pid, _create_time(pid), str(self._nats.log_path)
            )
        )
        return self._nats.url

    def _start_nats_cluster(self, nodes: int) -> str:
        """CLUSTERBRIDGE_NATS_NODES=3: a cluster on loopback, its first node on the usual
        ports; streams get three replicas. Each node is supervised on its own, and no
        service depends on any one of them: they ride out the loss of a node."""
        ports = [(self.ports.nats, self.ports.nats_monitor, free_port())]
        ports += [(free_port(), free_port(), free_port()) for _ in range(nodes - 1)]
        cluster = EmbeddedNatsCluster(
            self.data_dir / "nats-cluster", nodes, ports=ports, log_dir=self.logs_dir
        )
        self._nats = cluster
        with self._step(f"Starting a {nodes}-node NATS cluster (JetStream) on {LOOPBACK}"):
            cluster.start()
        for node in cluster.nodes:
            self._supervise_unit(node.name, node)
            self._record(
                Component(
                    node.name, "nats", node.url, node.pid, _create_time(node.pid),
                    str(node.log_path),
                )
            )  # fmt: skip
        return cluster.url

    def _migrate(self, database_url: str) -> None:
        upgrade = _optional_callable("shared.db.migrations", "upgrade_all")
        if upgrade is None:
            self._warn("shared.db.migrations.upgrade_all not found: no migrations applied")
            return
        result = _settle(upgrade(database_url))
        if isinstance(result, list) and result:
            self.console.print(f"  [dim]migrated: {', '.join(map(str, result))}[/]")

    def _internal_token(self) -> str:
        from_env = os.environ.get("INTERNAL_TOKEN")
        if from_env:
            return from_env
        path = self.data_dir / TOKEN_FILE
        if path.exists():
            return path.read_text().strip()
        token = secrets.token_urlsafe(32)
        _write_secret(path, token)
        return token

    def _load_demo(self, operator_key: str) -> None:
        """Demo clusters on the first start, so matches and search show something at once.

        `CLUSTERBRIDGE_DEMO=0` skips it; a marker file makes it happen once per data folder.
        """
        marker = self.data_dir / "demo-loaded"
        if marker.exists() or os.environ.get("CLUSTERBRIDGE_DEMO", "1") == "0":
            return
        from deploy.local.demo import load_demo

        with self._step("Loading demo clusters (CLUSTERBRIDGE_DEMO=0 skips this)"):
            try:
                created = load_demo(self.gateway.url, operator_key)
            except Exception as exc:  # demo data is a convenience, never a reason to stop
                self._warn(f"demo data not loaded: {exc}")
                return
            marker.write_text(f"{created}\n")

    def _operator_key(self, database_url: str) -> str | None:
        """The operator key: created on first start, remembered in var/operator-key."""
        key_path = self.data_dir / OPERATOR_KEY_FILE
        ensure = _optional_callable("services.gateway.bootstrap", "ensure_operator_key")
        if ensure is None:
            self._warn("services.gateway.bootstrap.ensure_operator_key not found: no operator key")
            return None
        created = _settle(ensure(database_url))
        if isinstance(created, str) and created:
            _write_secret(key_path, created)
            return created
        if key_path.exists():
            return key_path.read_text().strip()
        return None

    def _service_exists(self, spec: ServiceSpec) -> bool:
        try:
            found = importlib.util.find_spec(f"services.{spec.service}.main") is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            self._warn(f"services/{spec.service}/main.py does not exist yet: {spec.name} skipped")
        return found

    def _service_env(self, database_url: str, nats_url: str, token: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url,
            NATS_URL=nats_url,
            INTERNAL_TOKEN=token,
            # The web app calls the API here; mailed links point at the same door.
            GATEWAY_URL=self.gateway.url,
            PUBLIC_URL=os.environ.get("PUBLIC_URL", self.gateway.url),
            SMTP_URL=os.environ.get("SMTP_URL", f"smtp://{LOOPBACK}:{self.ports.smtp}"),
            ENVIRONMENT=os.environ.get("ENVIRONMENT", "development"),
            PYTHONUNBUFFERED="1",  # logs appear in var/logs as they happen
        )
        if nats_nodes() > 1 and not os.environ.get("NATS_URL"):
            env["NATS_STREAM_REPLICAS"] = "3"
        # The gateway routes only to services that exist in this checkout; one it knew
        # about but that never started would make its aggregated health fail for ever.
        # Other services (matching reads the registry) are given the first replica.
        for name in BACKEND_NAMES:
            key = f"{name.upper()}_URL"
            if (Path(__file__).resolve().parents[2] / "services" / name / "main.py").exists():
                env[key] = self._replica_urls(name)[0]
            else:
                env.pop(key, None)
        return env

    def _replica_urls(self, service: str) -> list[str]:
        return [s.url for s in self.backends if s.service == service]

    def _gateway_env(self, env: dict[str, str]) -> dict[str, str]:
        """The gateway gets every replica's URL, comma-separated, and takes turns."""
        out = dict(env)
        for name in BACKEND_NAMES:
            key = f"{name.upper()}_URL"
            if key in out:
                out[key] = ",".join(self._replica_urls(name))
        return out

    def _spawn_service(self, spec: ServiceSpec, env: dict[str, str]) -> ServiceProcess:
        svc = ServiceProcess(spec, env, self.logs_dir / f"{spec.name}.log")
        svc.launch()
        self._services.append(svc)
        self._record(
            Component(
                spec.name,
                "http",
                spec.url,
                svc.pid,
                _create_time(svc.pid),
                str(svc.log_path),
                public_url=spec.public_url,
            )
        )
        self._supervise_unit(spec.name, svc, depends_on=("postgres", "nats"))
        return svc

    def _wait_healthy(self, svc: ServiceProcess) -> None:
        """Wait until the service answers /healthz, then report what it says.

        Any answer counts as "up" (uvicorn answers only once start-up finished): the
        gateway's /healthz aggregates the others and says 503 while one is missing,
        which is worth a warning, not a stack that refuses to start.
        """
        try:
            wait_until(
                svc.ready,
                timeout=SERVICE_START_TIMEOUT,
                alive=svc.is_running,
                what=f"{svc.spec.name} on port {svc.spec.port}",
                log=svc.log_path,
            )
        except ServerStartError as exc:
            raise StackError(str(exc)) from exc
        answer = http_health(svc.spec.url)
        if answer is not None and answer.status_code != 200:
            try:
                detail = str(answer.json().get("detail") or answer.text)
            except ValueError:
                detail = answer.text
            self._warn(
                f"{svc.spec.name} is up but unhealthy ({answer.status_code}): {detail[:200]}"
            )

    def _print_summary(
        self, gateway_up: bool, operator_key: str | None, first_admin: str | None = None
    ) -> None:
        c = self.console
        c.print()
        c.print("[bold]Clusterbridge is running[/]")
        if gateway_up:
            c.print(f"  web app       {self.gateway.url}/")
            c.print(f"  gateway       {self.gateway.url}")
            c.print(f"  API docs      {self.gateway.url}/docs")
        if self._mail is not None:
            c.print(f"  mail          {self._rel('mail')}/ [dim](every message as a .eml file)[/]")
        if first_admin:
            # Never wrapped: the link must stay one piece to copy or click.
            c.print(f"  first admin   {first_admin}", soft_wrap=True)
            c.print(
                f"                [dim](the first agency admin's invitation; also in "
                f"{self._rel(FIRST_ADMIN_FILE)} and {self._rel('mail')}/)[/]"
            )
        else:
            c.print("  [yellow]no gateway yet[/]; services:")
            for svc in self._services:
                c.print(f"  {svc.spec.name:<13} {svc.spec.url}")
        if operator_key:
            kept = self._rel(OPERATOR_KEY_FILE)
            c.print(f"  operator key  {operator_key}  [dim](kept in {kept})[/]")
        else:
            c.print("  operator key  [dim]none to show (see the warnings above)[/]")
        c.print(f"  logs          {self._rel('logs')}/")
        c.print(
            f"A component that dies is restarted; more than {self.policy.max_crashes} crashes "
            f"of one within {self.policy.window:.0f} s stop the stack."
        )
        c.print("Stop with Ctrl-C, or `clusterbridge stack stop` from another terminal.")

    # -- running

    def _supervise(self) -> int:
        """Restart what dies, until a signal (StopRequested) or GiveUp ends it."""
        while True:
            self._supervisor.tick()
            time.sleep(SUPERVISION_TICK)  # supervision tick; a signal interrupts it at once

    def _supervise_unit(self, name: str, unit: Unit, depends_on: tuple[str, ...] = ()) -> None:
        self._supervisor.add(Supervised(name, unit, depends_on=depends_on))

    def _changed(self, s: Supervised) -> None:
        """Mirror a unit's supervision state into stack.json for `stack status`."""
        assert self._state is not None
        for comp in self._state.components:
            if comp.name == s.name:
                comp.pid = s.unit.pid
                comp.create_time = _create_time(comp.pid)
                comp.state = "running" if s.state == "running" else "restarting"
                comp.restarts = s.restarts
                comp.last_exit = s.last_exit
        self._save_state()

    def _log_tail(self, s: Supervised) -> str:
        assert self._state is not None
        for comp in self._state.components:
            if comp.name == s.name and comp.log:
                return tail(Path(comp.log), 15)
        return ""

    def _say(self, level: str, message: str) -> None:
        """A supervision event: on the console and in logs/supervisor.log."""
        style = {"info": "green", "warning": "yellow", "error": "red"}.get(level, "white")
        mark = {"info": "↻", "warning": "!", "error": "✗"}.get(level, "-")
        self.console.print(f"[{style}]{mark} {message}[/]", soft_wrap=True)
        self._log_line(level, message)

    def _log_line(self, level: str, message: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            self.logs_dir.mkdir(parents=True, exist_ok=True)
            with (self.logs_dir / SUPERVISOR_LOG).open("a") as fh:
                fh.write(f"{stamp} {level.upper():7} {message}\n")
        except OSError:
            pass  # the console line is there; a full disk must not stop supervision

    # -- shutdown

    def _shutdown(self) -> None:
        self._stopping = True
        if not (self._services or self._nats or self._postgres or self._mail):
            if self._public_socket is not None:
                self._public_socket.close()
            self.state_path.unlink(missing_ok=True)
            return
        with self.console.status("Stopping…"):
            # Services first (signalled all at once, they are independent), then what
            # they use.
            for svc in self._services:
                svc.send_signal(signal.SIGTERM)
            for svc in reversed(self._services):
                svc.stop()
            if self._nats is not None:
                self._nats.stop()
            if self._postgres is not None:
                self._postgres.stop()
            if self._mail is not None:
                self._mail.stop()
            if self._public_socket is not None:
                self._public_socket.close()
        self.state_path.unlink(missing_ok=True)
        self._log_line("info", "stack stopped")
        self.console.print("[green]✓[/] Stopped")

    # -- helpers

    def _record(self, comp: Component) -> None:
        assert self._state is not None
        self._state.components = [c for c in self._state.components if c.name != comp.name]
        self._state.components.append(comp)
        self._save_state()

    def _save_state(self) -> None:
        if self._state is not None:
            self._state.save(self.state_path)

    def _warn(self, message: str) -> None:
        self.console.print(f"[yellow]! {message}[/]")

    def _rel(self, name: str) -> str:
        path = self.data_dir / name
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)


def _optional_callable(module: str, attr: str) -> Callable[[str], object] | None:
    """`module.attr` if that module exists yet (other engineers are writing it).

    Imported by name at run time rather than statically: a missing module would
    otherwise fail type checking, and a present one would make an ignore comment stale.
    """
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # Only "this module (or its package) is absent" means "not written yet"; a
        # missing dependency inside it is a real error.
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return None
        raise
    fn = getattr(mod, attr, None)
    return fn if callable(fn) else None


def _settle(result: object) -> object:
    """Run a coroutine to completion, so sync and async implementations both work."""
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    return result


# --------------------------------------------------------------------------- status/stop


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    url: str
    healthy: bool
    log: str | None
    state: str = "running"
    restarts: int = 0
    last_exit: str | None = None
    public_url: str | None = None


def stack_status(data_dir: Path) -> tuple[StackState | None, list[ComponentStatus]]:
    state = StackState.load(data_dir.absolute() / STATE_FILE)
    if state is None:
        return None, []
    return state, [
        ComponentStatus(
            c.name,
            c.pid,
            mask_password(c.url),
            component_healthy(c),
            c.log,
            c.state,
            c.restarts,
            c.last_exit,
            c.public_url,
        )
        for c in state.components
    ]


def supervisor_alive(state: StackState) -> bool:
    return _process(state.supervisor_pid, state.supervisor_create_time) is not None


_STOP_SIGNAL: dict[Kind, signal.Signals] = {
    "http": signal.SIGTERM,
    "nats": signal.SIGTERM,
    "postgres": signal.SIGINT,  # PostgreSQL's fast shutdown
}


def stop_stack(data_dir: Path, timeout: float = 60.0) -> bool:
    """Stop the stack recorded in the state file; False when there was none."""
    path = data_dir.absolute() / STATE_FILE
    state = StackState.load(path)
    if state is None:
        return False
    supervisor = _process(state.supervisor_pid, state.supervisor_create_time)
    if supervisor is not None:
        # The supervisor knows the order and waits properly; let it do the work.
        supervisor.send_signal(signal.SIGTERM)
        _gone, alive = psutil.wait_procs([supervisor], timeout=timeout)
        if not alive:
            return True
        for proc in alive:
            proc.kill()
    # No supervisor (it crashed or was killed): stop what it left, services first.
    order: dict[Kind, int] = {"http": 0, "nats": 1, "postgres": 2}
    for comp in sorted(state.components, key=lambda c: order[c.kind]):
        left = _process(comp.pid, comp.create_time)
        if left is None:
            continue
        left.send_signal(_STOP_SIGNAL[comp.kind])
        _gone, alive = psutil.wait_procs([left], timeout=20)
        for leftover in alive:
            leftover.kill()
    path.unlink(missing_ok=True)
    return True

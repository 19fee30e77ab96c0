"""House rules as checks: services share only `shared`; `shared` imports no service."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_services_import_only_shared_and_themselves() -> None:
    offences = []
    for service_dir in sorted((ROOT / "services").iterdir()):
        if not (service_dir / "__init__.py").exists():
            continue
        own = f"services.{service_dir.name}"
        for path in service_dir.rglob("*.py"):
            for module in imported_modules(path):
                if module.startswith("services.") and not (
                    module == own or module.startswith(own + ".")
                ):
                    offences.append(f"{path.relative_to(ROOT)} imports {module}")
                if module.startswith(("deploy", "tests", "bench")):
                    offences.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offences == []


def test_shared_imports_no_service() -> None:
    offences = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "shared").rglob("*.py")
        for module in imported_modules(path)
        if module.startswith(("services", "deploy", "tests", "bench"))
    ]
    assert offences == []


# Pure engines: the algorithm packages inside a service. They must stay runnable and
# testable without a web framework, a database or a broker, and must not reach back
# into the service shell that wraps them.
ENGINES = {
    "services/matching/engine": "services.matching.engine",
    "services/events/scheduling": "services.events.scheduling",
}
INFRASTRUCTURE = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "nats", "httpx", "uvicorn")


def engine_offences(package_dir: Path, package: str) -> list[str]:
    service = package.rsplit(".", 1)[0]
    offences = []
    for path in package_dir.rglob("*.py"):
        for module in imported_modules(path):
            if module.split(".")[0] in INFRASTRUCTURE:
                offences.append(f"{path.relative_to(ROOT)} imports {module}")
            elif module.startswith(service + ".") and not (
                module == package or module.startswith(package + ".")
            ):
                offences.append(f"{path.relative_to(ROOT)} imports {module} from its shell")
    return offences


def test_engines_import_no_infrastructure_and_nothing_of_their_shell() -> None:
    offences = [
        offence
        for rel, package in ENGINES.items()
        for offence in engine_offences(ROOT / rel, package)
    ]
    assert offences == []


# The one service skeleton (docs/DEVELOPING.md). A service may leave out what it does
# not have (no models without tables); these are the parts every service has.
SKELETON = ("main.py", "settings.py", "deps.py", "api/__init__.py", "schemas.py")
WITH_TABLES = ("models.py", "repository.py", "messaging.py", "migrations/env.py")
# Names that issue SQL; only repositories (and migrations) may import them.
SQL_NAMES = frozenset({"select", "insert", "update", "delete", "text", "func"})


def services() -> list[Path]:
    return sorted(d for d in (ROOT / "services").iterdir() if (d / "__init__.py").exists())


def test_every_service_follows_the_skeleton() -> None:
    missing = []
    for service in services():
        expected = SKELETON + (WITH_TABLES if (service / "models.py").exists() else ())
        missing += [f"{service.name}/{part}" for part in expected if not (service / part).exists()]
    assert missing == []


def _sql_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            names = {a.name for a in node.names} & SQL_NAMES
            found += [f"{node.module}.{n}" for n in sorted(names)]
    return found


def test_sql_lives_in_repositories() -> None:
    offences = []
    for service in services():
        for path in service.rglob("*.py"):
            rel = path.relative_to(service)
            if rel.parts[0] == "migrations" or rel.name in ("repository.py", "models.py"):
                continue
            offences += [f"{path.relative_to(ROOT)} imports {n}" for n in _sql_imports(path)]
    assert offences == []


def test_routes_only_in_api_and_only_platform_routes() -> None:
    """Routers are made in api/ with shared.routing.api_router (so every route parses
    JSON strictly and keeps its Idempotency-Key answer with its write)."""
    offences = []
    for service in services():
        for path in service.rglob("*.py"):
            source = path.read_text()
            rel = path.relative_to(service)
            if "APIRouter(" in source:
                offences.append(f"{path.relative_to(ROOT)} builds a bare APIRouter")
            if "api_router(" in source and rel.parts[0] != "api":
                offences.append(f"{path.relative_to(ROOT)} declares routes outside api/")
    assert offences == []


def test_subjects_are_written_only_in_contracts() -> None:
    """A subject string written out in a service drifts from its contract."""
    import re

    subject = re.compile(
        r"""["'](registry|matching|events|gateway)\.(cluster|suggest|feedback|event|request|"""
        r"""schedule|meeting|participant|client)\b[a-z_.>]*["']"""
    )
    offences = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for path in (ROOT / "services").rglob("*.py")
        if "migrations" not in path.parts
        for m in subject.finditer(path.read_text())
    ]
    assert offences == []

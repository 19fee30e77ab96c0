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

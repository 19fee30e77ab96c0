"""Every machine installs the same tree: each dependency that pyproject.toml names, and
each package those need in turn, is pinned in requirements.lock, and the pin is what
this environment runs (a dependency added to pyproject.toml without a pin, or a pin
edited by hand that pip never installed, fails here)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version.split(";")[0].strip()
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(r) for r in names]


def tree(roots: list[Requirement]) -> set[str]:
    """The installed distributions these requirements pull in, transitively."""
    seen: set[str] = set()
    todo = [r for r in roots if r.marker is None or r.marker.evaluate()]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        for raw in metadata.requires(req.name) or []:
            sub = Requirement(raw)
            extras = req.extras or {""}
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                todo.append(sub)
    return seen


def test_pyproject_pins_every_direct_dependency_exactly() -> None:
    loose = [str(r) for r in declared() if not str(r.specifier).startswith("==")]
    assert not loose, f"pin these exactly in pyproject.toml: {loose}"


def test_the_lock_pins_the_whole_installed_tree_at_the_versions_installed() -> None:
    pins = locked()
    missing, differing = [], []
    for name in sorted(tree(declared())):
        installed = metadata.version(name)
        if name not in pins:
            missing.append(f"{name}=={installed}")
        elif pins[name] != installed:
            differing.append(f"{name}: lock {pins[name]}, installed {installed}")
    assert not missing, f"not in requirements.lock: {missing}"
    assert not differing, f"requirements.lock and the environment differ: {differing}"

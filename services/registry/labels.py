"""Excellence labels: who may set them, whether one is current, and their history.

A label is current while its validity end has not passed; that is decided when it is
read (filters, statistics, the profile), never by a job that rewrites rows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import Cluster, LabelAward
from services.registry.repository import LabelRepository
from shared.identity import Caller
from shared.problems import Problem

VERIFY_SCOPE = "registry:verify"

LabelState = tuple[str, date | None, str | None, date | None]


def today() -> date:
    return datetime.now(UTC).date()


def is_current(level: str, valid_until: date | None, on: date) -> bool:
    return level != "none" and (valid_until is None or valid_until >= on)


def status(level: str, valid_until: date | None, on: date) -> str:
    if level == "none":
        return "none"
    return "valid" if is_current(level, valid_until, on) else "expired"


def state_of(cluster: Cluster) -> LabelState:
    return (
        cluster.label_level or "none",
        cluster.label_valid_until,
        cluster.label_issuer,
        cluster.label_benchmarked_on,
    )


def state_from(value: dict[str, Any] | None) -> LabelState:
    lab = value or {}
    level = str(lab.get("level") or "none")
    if level == "none":
        # No label: nothing else about it means anything.
        return ("none", None, None, None)
    return (level, lab.get("valid_until"), lab.get("issuer"), lab.get("benchmarked_on"))


def may_set(caller: Caller) -> bool:
    """An agency admin's role carries registry:verify, a cluster manager's does not; an
    API key has it only if the operator granted it."""
    return caller.has(VERIFY_SCOPE)


def refuse() -> Problem:
    return Problem(
        403,
        "Only an agency admin, or an API key with the registry:verify scope, sets or "
        "changes an excellence label.",
        field="label",
        slug="insufficient-scope",
    )


def recorded_by(caller: Caller) -> str:
    if caller.person_id is not None:
        return f"person:{caller.person_id}"
    return f"client:{caller.client_id}" if caller.client_id else f"tenant:{caller.tenant}"


def record(session: AsyncSession, cluster: Cluster, by: str) -> None:
    """Adds the cluster's label as it now is to its history (same transaction)."""
    LabelRepository(session).add(
        LabelAward(
            id=uuid.uuid4(),
            cluster_id=cluster.id,
            tenant=cluster.tenant,
            level=cluster.label_level,
            issuer=cluster.label_issuer,
            benchmarked_on=cluster.label_benchmarked_on,
            valid_until=cluster.label_valid_until,
            recorded_by=by,
            recorded_at=datetime.now(UTC),
        )
    )

"""The scopes of the registry's routes, and whose tenant a write goes to."""

from __future__ import annotations

from shared.identity import Caller, require_scope
from shared.problems import Problem

READ = require_scope("registry:read")
WRITE = require_scope("registry:write")
ADMIN = require_scope("admin")


def target_tenant(caller: Caller, requested: str | None) -> str:
    if requested is None or requested == caller.tenant:
        return caller.tenant
    if not caller.is_admin:
        raise Problem(
            403,
            "An agency creates clusters only in its own tenant.",
            field="tenant",
            slug="tenant-forbidden",
        )
    return requested

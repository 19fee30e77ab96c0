"""Pieces every service's migrations repeat: the outbox and inbox tables, idempotency
keys stored with the write, tenant walls (row-level security) and the grants to the
role requests run as.

A migration is history: once released, what a helper here emits must never change, or
a database migrated before the change would differ from one migrated after it. Change
the schema with a new migration, not by editing these.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.session import APP_ROLE

# shared.db.session sets app.tenant for each request's transaction only; '*' is the
# operator and the service's own workers.
CURRENT_TENANT = "current_setting('app.tenant', true)"
ANY_TENANT = f"{CURRENT_TENANT} = '*'"


def tenant_is(*columns: str) -> str:
    """A policy expression: the row belongs to the caller's tenant by one of `columns`,
    or the caller is the operator."""
    checks = " OR ".join(f"{column} = {CURRENT_TENANT}" for column in columns)
    return f"({checks} OR {ANY_TENANT})"


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def create_outbox(schema: str) -> None:
    """Events written in the same transaction as the change they announce, published
    to NATS afterwards by the relay (shared.messaging.outbox)."""
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("tenant", sa.String(length=16), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _created_at(),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        schema=schema,
    )
    op.create_index(
        op.f(f"ix_{schema}_outbox_published_at"),
        "outbox",
        ["published_at"],
        unique=False,
        schema=schema,
    )


def drop_outbox(schema: str) -> None:
    op.drop_index(op.f(f"ix_{schema}_outbox_published_at"), table_name="outbox", schema=schema)
    op.drop_table("outbox", schema=schema)


def create_inbox(schema: str) -> None:
    """The events each consumer has handled, written with the handling's own effects,
    so a redelivered event is recognised and skipped (shared.messaging.inbox)."""
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column(
            "handled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
        schema=schema,
    )


def drop_inbox(schema: str) -> None:
    op.drop_table("inbox", schema=schema)


def create_idempotency_keys(schema: str) -> None:
    """A service's idempotency keys, claimed in the same transaction as the write they
    guard (shared.idempotency). The key embeds the API client's id, so rows need no
    tenant policy: a caller can only ever name its own keys (the gateway sets them)."""
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
        schema=schema,
    )
    op.create_index(
        op.f(f"ix_{schema}_idempotency_keys_created_at"),
        "idempotency_keys",
        ["created_at"],
        schema=schema,
    )
    grant_tables(schema, "idempotency_keys")


def drop_idempotency_keys(schema: str) -> None:
    op.drop_index(
        op.f(f"ix_{schema}_idempotency_keys_created_at"),
        table_name="idempotency_keys",
        schema=schema,
    )
    op.drop_table("idempotency_keys", schema=schema)


def _enable_row_security(schema: str, table: str) -> None:
    op.execute(f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY")
    # FORCE: the table's owner (the migrating user) is walled too, should a request ever
    # run without dropping to the app role.
    op.execute(f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY")


def tenant_wall(
    schema: str,
    table: str,
    *,
    read: str,
    write: str,
    insert: str | None = None,
    delete: str | None = None,
) -> None:
    """Tenant walls with one policy per verb: who may read, who may change, and who may
    insert and delete (by default whoever may change)."""
    _enable_row_security(schema, table)
    name = f"{schema}.{table}"
    op.execute(f"CREATE POLICY {table}_read ON {name} FOR SELECT USING {read}")
    op.execute(f"CREATE POLICY {table}_insert ON {name} FOR INSERT WITH CHECK {insert or write}")
    op.execute(
        f"CREATE POLICY {table}_update ON {name} FOR UPDATE USING {write} WITH CHECK {write}"
    )
    op.execute(f"CREATE POLICY {table}_delete ON {name} FOR DELETE USING {delete or write}")


def private_wall(schema: str, table: str, own: str) -> None:
    """Tenant walls for a private table: one policy, `own`, for every verb."""
    _enable_row_security(schema, table)
    op.execute(f"CREATE POLICY {table}_own ON {schema}.{table} USING {own} WITH CHECK {own}")


def grant_schema(schema: str) -> None:
    """Requests run as the app role: it may use every table and sequence of the schema
    that exists now (a later migration grants its own new tables with grant_tables)."""
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}")
    op.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {APP_ROLE}"
    )
    grant_sequences(schema)


def grant_sequences(schema: str) -> None:
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {APP_ROLE}")


def grant_tables(schema: str, *tables: str) -> None:
    names = ", ".join(f"{schema}.{table}" for table in tables)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {names} TO {APP_ROLE}")


def add_outbox_headers(schema: str) -> None:
    """Outbox rows keep the headers of the request that wrote them (request id, W3C
    trace context). Nullable, no default: older rows and rows written outside any
    request have none, and adding the column rewrites nothing."""
    op.add_column(
        "outbox",
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema=schema,
    )


def drop_outbox_headers(schema: str) -> None:
    op.drop_column("outbox", "headers", schema=schema)

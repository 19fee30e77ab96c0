"""Bulk import of cluster profiles from JSON Lines or CSV, streamed, idempotent.

The body is read as it arrives and processed in batches, so memory stays flat whatever
the file size. Each batch commits in its own transaction with its outbox events; a row
is matched on (tenant, external_id), so running the same file twice updates, never
duplicates. Every refused row is reported with its line and the field at fault.
"""

from __future__ import annotations

import codecs
import csv
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import labels, messaging, profiles
from services.registry.models import Cluster, ImportJob, Tenant
from services.registry.repository import ClusterRepository, ImportRepository
from services.registry.schemas import ClusterFields
from shared.identity import Caller
from shared.problems import Problem

BATCH_ROWS = 500
MAX_REPORTED_ERRORS = 1000
MAX_LINE_BYTES = 1_000_000

LIST_COLUMNS = (
    "languages", "ecosystems", "nace_codes", "competences",
    "technologies", "offers", "needs", "target_countries",
)  # fmt: skip
MEMBER_COLUMNS = {
    "members_smes": "smes",
    "members_large_firms": "large_firms",
    "members_research_education": "research_education",
    "members_other": "other",
}
LABEL_COLUMNS = {
    "label_level": "level",
    "label_valid_until": "valid_until",
    "label_issuer": "issuer",
    "label_benchmarked_on": "benchmarked_on",
}
CSV_COLUMNS = frozenset(
    {"name", "country", "region", "region_code", "city", "website", "description",
     "contact_email", "external_id", *LABEL_COLUMNS, *LIST_COLUMNS, *MEMBER_COLUMNS}
)  # fmt: skip


@dataclass
class RowError:
    line: int
    external_id: str | None
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "external_id": self.external_id,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class Tally:
    rows_seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    errors: list[RowError] = field(default_factory=list)

    def refuse(self, err: RowError) -> None:
        self.refused += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(err)


async def _lines(body: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, str]]:
    """Decoded lines with their 1-based numbers, newline kept (CSV needs it)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    pending = ""
    number = 0
    async for chunk in body:
        try:
            pending += decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise Problem(400, f"The file is not UTF-8 (after line {number}).") from exc
        while (cut := pending.find("\n")) >= 0:
            number += 1
            yield number, pending[: cut + 1]
            pending = pending[cut + 1 :]
        if len(pending) > MAX_LINE_BYTES:
            raise Problem(413, f"Line {number + 1} is longer than {MAX_LINE_BYTES} bytes.")
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise Problem(400, "The file is not UTF-8 (at its end).") from exc
    if pending:
        yield number + 1, pending


def _error_from_validation(line: int, ext: str | None, exc: ValidationError) -> RowError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return RowError(line, ext, loc or None, str(first.get("msg", "invalid")))


def _jsonl_row(line: int, text: str) -> tuple[dict[str, Any] | None, RowError | None]:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, RowError(line, None, None, f"not valid JSON: {exc}")
    if not isinstance(obj, dict):
        return None, RowError(line, None, None, "each line must be a JSON object")
    return obj, None


def _csv_record(header: list[str], values: list[str]) -> dict[str, Any]:
    raw = dict(zip(header, values, strict=False))
    out: dict[str, Any] = {}
    members: dict[str, Any] = {}
    label: dict[str, Any] = {}
    for key, value in raw.items():
        value = value.strip()
        if key in LIST_COLUMNS:
            out[key] = [v.strip() for v in value.split(";") if v.strip()]
        elif key in MEMBER_COLUMNS:
            if value:
                members[MEMBER_COLUMNS[key]] = value
        elif key in LABEL_COLUMNS:
            if value:
                label[LABEL_COLUMNS[key]] = value
        elif value:
            out[key] = value
    if members:
        out["members"] = members
    if label:
        out["label"] = label
    return out


async def _csv_rows(
    lines: AsyncIterator[tuple[int, str]],
) -> AsyncIterator[tuple[int, dict[str, Any] | None, RowError | None]]:
    header: list[str] | None = None
    buffered: list[str] = []
    start_line = 0
    quotes = 0

    def parse(chunk: list[str], first_line: int) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(chunk)
        for values in reader:
            # csv counts physical lines consumed; a quoted newline spans several.
            yield first_line + reader.line_num - 1, values

    async for number, text in lines:
        if not buffered:
            start_line = number
        buffered.append(text)
        quotes += text.count('"')
        if quotes % 2:  # inside a quoted field that goes on on the next line
            continue
        chunk, buffered, quotes = buffered, [], 0
        for line_no, values in parse(chunk, start_line):
            if not any(v.strip() for v in values):
                continue
            if header is None:
                header = [h.strip().lower() for h in values]
                unknown = [h for h in header if h not in CSV_COLUMNS]
                if unknown or "name" not in header or "country" not in header:
                    raise Problem(
                        422,
                        "The CSV header must name columns among: "
                        + ", ".join(sorted(CSV_COLUMNS))
                        + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                        + "; name and country are required.",
                        field="header",
                    )
                continue
            if len(values) != len(header):
                yield (
                    line_no,
                    None,
                    RowError(
                        line_no, None, None, f"expected {len(header)} columns, found {len(values)}"
                    ),
                )
                continue
            yield line_no, _csv_record(header, values), None
    if buffered:
        yield start_line, None, RowError(start_line, None, None, "unterminated quoted field")
    if header is None:
        raise Problem(422, "The CSV file has no header row.", field="header")


async def _jsonl_rows(
    lines: AsyncIterator[tuple[int, str]],
) -> AsyncIterator[tuple[int, dict[str, Any] | None, RowError | None]]:
    async for number, text in lines:
        if not text.strip():
            continue
        obj, err = _jsonl_row(number, text)
        yield number, obj, err


Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class Importer:
    def __init__(self, transaction: Transaction, tenant: Tenant, fmt: str, caller: Caller) -> None:
        # Each batch commits in its own transaction (scoped to the caller's tenant, and
        # waking the outbox relay), so a large file never holds one open.
        self.transaction = transaction
        self.tenant = tenant
        self.fmt = fmt
        self.may_label = labels.may_set(caller)
        self.recorded_by = labels.recorded_by(caller)
        self.tally = Tally()
        self.job_id = uuid.uuid4()

    async def _begin_job(self) -> None:
        async with self.transaction() as s:
            ImportRepository(s).add(
                ImportJob(
                    id=self.job_id,
                    tenant=self.tenant.code,
                    format=self.fmt,
                    status="running",
                    rows_seen=0,
                    created=0,
                    updated=0,
                    unchanged=0,
                    refused=0,
                    errors=[],
                )
            )

    async def _save_progress(self, s: AsyncSession, status: str = "running") -> None:
        t = self.tally
        await ImportRepository(s).save_progress(
            self.job_id,
            status=status,
            rows_seen=t.rows_seen,
            created=t.created,
            updated=t.updated,
            unchanged=t.unchanged,
            refused=t.refused,
            errors=[e.as_dict() for e in t.errors],
            finished_at=datetime.now(UTC) if status != "running" else None,
        )

    async def _store_batch(self, batch: list[tuple[int, ClusterFields]]) -> None:
        async with self.transaction() as s:
            repo = ClusterRepository(s)
            ext_ids = list({f.external_id for _, f in batch if f.external_id})
            existing = await repo.by_external_ids(self.tenant.code, ext_ids)
            touched: dict[str, Cluster] = {}
            label_before: dict[str, labels.LabelState] = {}
            for line, fields in batch:
                ext = fields.external_id
                assert ext is not None
                current = touched.get(ext) or existing.get(ext)
                try:
                    if current is None:
                        cluster = profiles.new_cluster(
                            self.tenant, fields, may_label=self.may_label
                        )
                        label_before[ext] = labels.state_from(None)
                        repo.add(cluster)
                        self.tally.created += 1
                        touched[ext] = cluster
                        continue
                    # A row without label columns leaves the label alone: labels are a
                    # verifier's to change, not a side effect of re-importing a file.
                    exclude = (
                        {"tenant"} if "label" in fields.model_fields_set else {"tenant", "label"}
                    )
                    changes = fields.model_dump(exclude=exclude, mode="python")
                    label_before.setdefault(ext, labels.state_of(current))
                    if profiles.apply_changes(
                        self.tenant, current, changes, may_label=self.may_label
                    ):
                        if ext in existing and ext not in touched:
                            self.tally.updated += 1
                        touched[ext] = current
                    else:
                        self.tally.unchanged += 1
                except Problem as exc:
                    self.tally.refuse(RowError(line, ext, exc.field, exc.detail))
            await s.flush()
            for ext, cluster in touched.items():
                if labels.state_of(cluster) != label_before[ext]:
                    labels.record(s, cluster, self.recorded_by)
                messaging.announce_upsert(s, cluster)
            await self._save_progress(s)

    async def run(self, body: AsyncIterator[bytes]) -> uuid.UUID:
        await self._begin_job()
        rows = _csv_rows(_lines(body)) if self.fmt == "csv" else _jsonl_rows(_lines(body))
        batch: list[tuple[int, ClusterFields]] = []
        try:
            async for line, record, error in rows:
                self.tally.rows_seen += 1
                if error is not None:
                    self.tally.refuse(error)
                    continue
                assert record is not None
                ext = (
                    record.get("external_id")
                    if isinstance(record.get("external_id"), str)
                    else None
                )
                try:
                    fields = ClusterFields.model_validate(record)
                except ValidationError as exc:
                    self.tally.refuse(_error_from_validation(line, ext, exc))
                    continue
                if not fields.external_id:
                    self.tally.refuse(
                        RowError(line, None, "external_id", "required for bulk import")
                    )
                    continue
                batch.append((line, fields))
                if len(batch) >= BATCH_ROWS:
                    await self._store_batch(batch)
                    batch = []
            if batch:
                await self._store_batch(batch)
        except Problem as exc:
            await self._finish(
                "failed", RowError(self.tally.rows_seen, None, exc.field, exc.detail)
            )
            raise
        await self._finish("done")
        return self.job_id

    async def _finish(self, status: str, fatal: RowError | None = None) -> None:
        if fatal is not None:
            self.tally.errors.append(fatal)
        async with self.transaction() as s:
            await self._save_progress(s, status)

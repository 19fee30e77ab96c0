"""`clusterbridge import FILE`: bulk-load cluster profiles through the gateway, with a
progress bar, as an agency would (so keys, tenants and limits apply as for everyone)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from deploy.local.stack import OPERATOR_KEY_FILE, default_data_dir

CHUNK = 256 * 1024


def _key(explicit: str | None) -> str:
    if explicit:
        return explicit
    path = default_data_dir() / OPERATOR_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    typer.echo("no API key: pass --key or set CLUSTERBRIDGE_API_KEY", err=True)
    raise typer.Exit(2)


def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    tenant: Annotated[
        str | None, typer.Option(help="Tenant to import into (operator keys only).")
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv; default from the file name.")
    ] = None,
    gateway: Annotated[
        str, typer.Option(envvar="CLUSTERBRIDGE_URL", help="Gateway base URL.")
    ] = "http://127.0.0.1:8000",
    key: Annotated[
        str | None, typer.Option(envvar="CLUSTERBRIDGE_API_KEY", help="API key.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Create or update cluster profiles from a JSON Lines or CSV file (by external_id)."""
    fmt = file_format or ("csv" if file.suffix.lower() == ".csv" else "jsonl")
    if fmt not in ("jsonl", "csv"):
        typer.echo("--format must be jsonl or csv", err=True)
        raise typer.Exit(2)
    size = os.path.getsize(file)
    console = Console(stderr=True)
    params = {"format": fmt, **({"tenant": tenant} if tenant else {})}
    with Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
        TimeRemainingColumn(), console=console, transient=as_json,
    ) as progress:  # fmt: skip
        task = progress.add_task(f"uploading {file.name}", total=size)

        def chunks() -> Iterator[bytes]:
            with file.open("rb") as fh:
                while block := fh.read(CHUNK):
                    progress.advance(task, len(block))
                    yield block
            progress.update(task, description="storing the last rows")

        try:
            response = httpx.post(
                f"{gateway.rstrip('/')}/v1/clusters/import",
                params=params,
                content=chunks(),
                headers={
                    "authorization": f"Bearer {_key(key)}",
                    "content-type": "text/csv" if fmt == "csv" else "application/x-ndjson",
                },
                timeout=httpx.Timeout(600.0, connect=5.0),
            )
        except httpx.HTTPError as exc:
            typer.echo(f"could not reach the gateway at {gateway}: {exc}", err=True)
            raise typer.Exit(1) from exc
    body = response.json() if response.content else {}
    if response.status_code != 200:
        typer.echo(f"import refused ({response.status_code}): {body.get('detail', body)}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(body))
        return
    console.print(
        f"[bold]{body['rows_seen']}[/] rows: {body['created']} created, {body['updated']} "
        f"updated, {body['unchanged']} unchanged, [red]{body['refused']} refused[/]"
    )
    for err in body["errors"][:20]:
        field = f" [{err['field']}]" if err.get("field") else ""
        console.print(f"  line {err['line']}{field}: {err['message']}")
    if body["refused"] > 20:
        console.print(f"  … and {body['refused'] - 20} more (see --json)")

"""Every endpoint, fed generated and hostile input from the merged OpenAPI document by
schemathesis, answers without a server error, with a documented status, content type
and body (through the gateway, as an agency)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.harness import Platform

SCHEMATHESIS = Path(sys.executable).with_name("st")


async def test_no_endpoint_answers_generated_input_with_a_server_error(
    platform: Platform,
) -> None:
    # An agency key, not the operator's: the fuzzer follows links (it would happily
    # revoke every API client of the run), and agencies are who meets this API first.
    proc = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "run", f"{platform.gateway_url}/openapi.json",
        "--header", f"Authorization: Bearer {platform.keys['jp']}",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance",
        "--max-examples", "5",
        "--seed", "20261128",
        "--workers", "1",
        "--request-timeout", "30",
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-6000:]
    assert "generated" in report

"""The fault scenario at scale: N cluster creates through the gateway with an
Idempotency-Key each, retried until a 2xx, while every component of a real local stack
is killed with SIGKILL in turn and restarted by the supervisor; then what the registry,
the REGISTRY stream and the match index hold, and whether every answer was true.

The scenario itself is tests/reliability/scenario.py (the suite runs it small).

    python bench/faults.py [--creates 5000] [--concurrency 16] [--faults registry,nats]
                           [--json] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.scenario import (
    ALL_TARGETS,
    LocalStack,
    Report,
    run_scenario,
    temporary_data_dir,
)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def cpu_seconds(stack: LocalStack) -> dict[str, float]:
    """CPU used by each component since its last start (PostgreSQL with its backends)."""
    out: dict[str, float] = {}
    for name, comp in stack.components().items():
        if comp.pid is None:
            continue
        try:
            proc = psutil.Process(comp.pid)
            procs = [proc, *proc.children(recursive=True)]
            total = 0.0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
            out[name] = round(total, 1)
        except psutil.Error:
            continue
    return out


def print_report(report: Report, load_before: str, load_after: str, seconds: float) -> None:
    s: dict[str, Any] = report.summary()
    print(f"creates                 {s['creates']}")
    print("answers by status       " + ", ".join(f"{k}: {v}" for k, v in sorted(
        s["answers_by_status"].items())))  # fmt: skip
    print("attempts by outcome     " + ", ".join(f"{k}: {v}" for k, v in s[
        "attempts_by_outcome"].items()))  # fmt: skip
    print(f"rows in the registry    {s['rows']}")
    print(f"events (distinct ids)   {s['events_distinct_ids']} ({s['upserted_messages']} messages)")
    print(f"match index profiles    {s['index_profiles']}")
    print(f"duplicates              by name {s['duplicates']['name']}, "
          f"by external_id {s['duplicates']['external_id']}")  # fmt: skip
    print(f"lost (2xx, no row)      {s['lost']}")
    print(f"untrue answers          {s['untrue_answers']}")
    print(f"replays that differ     {s['replay_mismatches']}")
    conv, settle = s["converge_seconds"], s["settle_seconds"]
    if settle is None:
        print("time to converge        never (rows, events and index did not agree)")
    else:
        since_kill = "" if conv is None else f"{conv} s from the last kill, "
        print(f"time to converge        {since_kill}{settle} s from the last answer")
    print(f"create phase            {s['create_phase_seconds']} s; whole run {seconds:.0f} s")
    for f in s["faults"]:
        back = "not back" if f["back_after_s"] is None else f"back after {f['back_after_s']} s"
        print(f"  kill -9 {f['target']:<9} at {f['at_s']:>6} s "
              f"({f['answered_before']} answered): {back}")  # fmt: skip
    print(f"load average            {load_before} before, {load_after} after")
    problems = report.problems()
    print("verdict                 " + ("consistent" if not problems else "NOT consistent"))
    for p in problems:
        print(f"  - {p}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--creates", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--faults", default=",".join(ALL_TARGETS),
                        help="components to kill, in order (empty: none)")  # fmt: skip
    parser.add_argument("--give-up-after", type=float, default=120.0,
                        help="seconds a create keeps retrying one key")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and logs")
    args = parser.parse_args()
    targets = [t for t in args.faults.split(",") if t]
    unknown = set(targets) - set(ALL_TARGETS)
    if unknown:
        parser.error(f"unknown components: {', '.join(sorted(unknown))}")

    with temporary_data_dir(keep=args.keep) as root:
        # One crash each is expected; more than 3 of one component is the stack giving up.
        stack = LocalStack(root, max_crashes=3, crash_window=3600)
        print(f"starting a local stack in {root} …", file=sys.stderr)
        await stack.start()
        load_before = _load()
        began = time.monotonic()
        try:
            report = await run_scenario(
                stack, n=args.creates, targets=targets, concurrency=args.concurrency,
                give_up_after=args.give_up_after,
            )  # fmt: skip
            cpu = cpu_seconds(stack)
            cpu["this client"] = round(sum(os.times()[:2]), 1)
        finally:
            stack.stop()
        seconds = time.monotonic() - began
        if args.json:
            print(json.dumps({**report.summary(), "problems": report.problems(), "cpu_seconds": cpu,
                              "load_before": load_before, "load_after": _load()}, indent=2))  # fmt: skip
        else:
            print_report(report, load_before, _load(), seconds)
            print("cpu seconds             " + ", ".join(f"{k} {v}" for k, v in cpu.items())
                  + " (each since its last start)")  # fmt: skip
        if args.keep:
            print(f"data and logs kept in {root}", file=sys.stderr)
    return 0 if not report.problems() else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

"""Per-request cost of tracing, through the gateway: two gateway + registry pairs on the
same PostgreSQL and NATS, one with nothing configured (the default: no SDK loaded), one
exporting spans and metrics by OTLP/HTTP to a real receiver in this process (the same
one the tests use), with the SDK's default batching.

GETs of one cluster (1 client, then N concurrent) and creates (which also write the
trace context into the outbox row and publish in a producer span), in rounds that
alternate off and on, so a change of machine load hits both sides. Besides latency it
prints the CPU time the gateway and registry processes spent per request (psutil),
which a busy machine disturbs far less than wall-clock latency.

Everything runs on this machine (PostgreSQL, NATS, four services, the receiver and this
load generator share its CPU).

    python bench/tracing_cost.py [--gets 2000] [--creates 300] [--concurrency 16] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
from pathlib import Path
from typing import Any

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gateway import Run, load, payload, row
from bench.processes import TOKEN, bench_platform
from tests.otlp_receiver import OtlpReceiver


class ReceiverThread:
    """The OTLP receiver on an event loop of its own, beside the blocking bench code."""

    def __init__(self) -> None:
        self.receiver = OtlpReceiver()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self.loop).result(10)
        return self.receiver

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def off_path_per_call() -> None:
    """What the off path adds per request, call by call, in this process: the OTel
    metric call that returns at once, the guard of the DEBUG access-log line (and what
    the filtered call would cost without it), and the request-id/trace headers of an
    outbox row (no span: no trace context)."""
    import logging
    import timeit

    import structlog

    from shared.logging import configure_logging
    from shared.requestid import set_request_id
    from shared.telemetry.propagation import context_headers
    from shared.telemetry.telemetry import OFF

    configure_logging("bench", "INFO")
    log = structlog.get_logger("http")
    set_request_id("bench-request")
    cases = {
        "OFF.record_request(...)": lambda: OFF.record_request("GET", "/v1/x", 200, 0.001),
        "log.debug(...) at INFO (not used)": lambda: log.debug("request handled", status=200),
        "root.isEnabledFor(DEBUG) (its guard)": lambda: logging.getLogger().isEnabledFor(10),
        "context_headers() (per outbox row)": context_headers,
    }
    print("\nThe off path, per call (this process, best of 5)")
    for label, fn in cases.items():
        best = min(timeit.repeat(fn, number=20_000, repeat=5)) / 20_000
        print(f"{label:<38} {best * 1e9:>8.0f} ns")


def cpu_seconds(procs: list[psutil.Process]) -> float:
    return sum(t.user + t.system for t in (p.cpu_times() for p in procs))


async def measure(
    gateways: dict[str, str],
    registry: str,
    key: str,
    args: argparse.Namespace,
    procs: dict[str, list[psutil.Process]],
    cpu_ms: dict[str, float],
) -> list[Run]:
    direct = {"x-internal-token": TOKEN, "x-tenant": "jp", "x-scopes": "registry:write",
              "content-type": "application/json"}  # fmt: skip
    async with (
        aiohttp.ClientSession(headers=direct) as s,
        s.post(f"{registry}/v1/clusters", data=payload(0)) as r,
    ):
        cid = (await r.json())["id"]
    headers = {"authorization": f"Bearer {key}"}
    posting = {**headers, "content-type": "application/json"}
    runs: list[Run] = []

    async def timed(side: str, run: Any) -> None:
        before = cpu_seconds(procs[side])
        done: Run = await run
        cpu_ms[done.label] = (cpu_seconds(procs[side]) - before) * 1000 / done.requests
        runs.append(done)

    for n in range(1, args.rounds + 1):
        for side in ("off", "on"):
            base = gateways[side]
            url = f"{base}/v1/clusters/{cid}"
            await timed(
                side, load(f"GET {side} r{n}, 1 cl.", url, headers, args.gets // 2, 1, "GET")
            )
            await timed(
                side,
                load(
                    f"GET {side} r{n}, {args.concurrency} cl.",
                    url,
                    headers,
                    args.gets,
                    args.concurrency,
                    "GET",
                ),
            )
            await timed(
                side,
                load(
                    f"POST {side} r{n}, 1 cl.",
                    f"{base}/v1/clusters",
                    posting,
                    args.creates,
                    1,
                    "POST",
                    payload,
                ),
            )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rate = {"RATE_PER_SECOND": "1000000", "RATE_BURST": "1000000", "RATE_LIMIT_STORE": "process"}
    with ReceiverThread() as receiver, bench_platform(fast_db=True) as p:
        otel = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
        }
        reg_off = p.start_service("registry-off", "services.registry.main", {})
        reg_on = p.start_service("registry-on", "services.registry.main", otel)
        gateways = {
            "off": p.start_service(
                "gateway-off", "services.gateway.main", {"REGISTRY_URL": reg_off, **rate}
            ),
            "on": p.start_service(
                "gateway-on", "services.gateway.main", {"REGISTRY_URL": reg_on, **rate, **otel}
            ),
        }
        key = p.api_key("jp", ["registry:read", "registry:write"])
        procs = {
            side: [
                psutil.Process(p.pid(f"gateway-{side}")),
                psutil.Process(p.pid(f"registry-{side}")),
            ]
            for side in ("off", "on")
        }
        cpu_ms: dict[str, float] = {}
        runs = asyncio.run(measure(gateways, reg_off, key, args, procs, cpu_ms))
        spans = len(receiver.spans)
    print("\nThrough the gateway to the registry; tracing off (default) vs on (OTLP/HTTP)")
    print(f"{'':<34} {'throughput':>11} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'errors':>6}"
          f" {'CPU ms/req':>10}")  # fmt: skip
    for run in runs:
        print(f"{row(run)} {cpu_ms[run.label]:>10.3f}")
    print()
    c = args.concurrency
    for what in ("GET", "POST"):
        for clients in (1, c) if what == "GET" else (1,):
            off = [
                r
                for r in runs
                if r.label.startswith(f"{what} off") and f", {clients} cl." in r.label
            ]
            on = [
                r
                for r in runs
                if r.label.startswith(f"{what} on") and f", {clients} cl." in r.label
            ]
            p50_off = statistics.median(r.pct(50) for r in off)
            p50_on = statistics.median(r.pct(50) for r in on)
            mean_off = statistics.fmean(statistics.fmean(r.latencies_ms) for r in off)
            mean_on = statistics.fmean(statistics.fmean(r.latencies_ms) for r in on)
            ratio = statistics.fmean(r.rate for r in on) / statistics.fmean(r.rate for r in off)
            cpu_off = statistics.fmean(cpu_ms[r.label] for r in off)
            cpu_on = statistics.fmean(cpu_ms[r.label] for r in on)
            print(
                f"{what} {clients:>2} cl.: p50 {p50_off:.3f} -> {p50_on:.3f} ms "
                f"({p50_on - p50_off:+.3f}), mean {mean_on - mean_off:+.3f} ms, "
                f"throughput on/off {ratio:.2f}; CPU per request (gateway + registry) "
                f"{cpu_off:.3f} -> {cpu_on:.3f} ms ({cpu_on - cpu_off:+.3f})"
            )
    print(f"spans received by the OTLP receiver: {spans}")
    # Last: it sets up this process's logging, which would print the start-up's polls.
    off_path_per_call()


if __name__ == "__main__":
    main()

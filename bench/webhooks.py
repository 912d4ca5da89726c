"""Webhook delivery benchmark: `python -m bench.webhooks [--events N] [--quick]`.

Against an embedded PostgreSQL, with real `scorecard worker` processes and a minimal HTTP
receiver on 127.0.0.1 (an asyncio protocol answering 200 at once):

(a) latency: one worker; events committed one at a time through `emit_event`, each waited for;
    commit-to-receipt p50/p99 (targets: p50 ≤ 50 ms, p99 ≤ 250 ms);
(b) throughput: two workers; N events committed in one transaction, drained; deliveries/s from
    the commit to the last receipt (target ≥ 500/s), and a check that each arrived exactly once.

Prints the figures and writes them to bench/results/webhooks.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import machine, save_results, scratch_database

ROOT = Path(__file__).resolve().parents[1]
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


@dataclass(frozen=True)
class Plan:
    latency_events: int
    throughput_events: int


class Receiver(asyncio.Protocol):
    """Just enough HTTP/1.1 (keep-alive, Content-Length bodies) to count webhook-ids."""

    def __init__(self, sink: ReceiverState) -> None:
        self.sink = sink
        self.buffer = b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (head_end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length, webhook_id = 0, ""
            for line in self.buffer[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
                elif name.lower() == b"webhook-id":
                    webhook_id = value.strip().decode()
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            self.buffer = self.buffer[end:]
            self.sink.arrived(webhook_id)
            self.transport.write(OK)


class ReceiverState:
    """What arrived, when (perf_counter), how often; and who is waiting for which id."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.all_arrived: asyncio.Event = asyncio.Event()
        self.expected = 0

    def arrived(self, webhook_id: str) -> None:
        now = time.perf_counter()
        self.counts[webhook_id] += 1
        self.arrivals.setdefault(webhook_id, now)
        waiter = self.waiters.pop(webhook_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)
        if self.expected and len(self.arrivals) >= self.expected:
            self.all_arrived.set()


# As in production: one JSON line per attempt; deliveries to the receiver on 127.0.0.1.
WORKERS_ENV = {"SCORECARD_WEBHOOK_ALLOW_PRIVATE": "true", "LOG_FORMAT": "json"}


@contextmanager
def workers(url: str, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` `scorecard worker` processes on `url`, stopped (SIGTERM, then SIGKILL after
    30 s) on the way out."""
    env = {**os.environ, "DATABASE_URL": url, **WORKERS_ENV}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_for_listeners(engine: AsyncEngine, count: int) -> None:
    """Workers are ready once their LISTEN connections are up."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'scorecard-worker-listen'"
    )
    deadline = time.monotonic() + 30
    while True:
        async with engine.connect() as connection:
            if await connection.scalar(query) >= count:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} worker(s) did not start within 30 s")
        await asyncio.sleep(0.1)


async def subscribe(engine: AsyncEngine, receiver_url: str) -> None:
    from app.core.database import make_sessionmaker
    from app.webhooks.models import Subscription
    from app.webhooks.signing import new_secret

    async with make_sessionmaker(engine)() as session:
        session.add(Subscription(url=receiver_url, secret=new_secret()))
        await session.commit()


async def measure_latency(engine: AsyncEngine, state: ReceiverState, events: int) -> list[float]:
    """Milliseconds from each commit returning to the receiver reading the request."""
    from app.core.database import make_sessionmaker
    from app.webhooks.events import emit_event

    sessionmaker = make_sessionmaker(engine)
    loop = asyncio.get_running_loop()
    latencies = []
    for n in range(events):
        async with sessionmaker() as session:
            event_id = str(
                await emit_event(session, "measure.threshold_crossed", {"n": n}, scorecard_id=None)
            )
            state.waiters[event_id] = loop.create_future()
            await session.commit()
            committed = time.perf_counter()
        received = await asyncio.wait_for(state.waiters[event_id], timeout=10)
        latencies.append((received - committed) * 1000)
        await asyncio.sleep(0.02)  # the worker goes idle: each event needs a wake-up
    return latencies


async def measure_throughput(
    engine: AsyncEngine, state: ReceiverState, events: int
) -> dict[str, Any]:
    from app.core.database import make_sessionmaker
    from app.webhooks.events import emit_event

    state.expected = len(state.arrivals) + events
    async with make_sessionmaker(engine)() as session:
        for n in range(events):
            await emit_event(session, "measure.threshold_crossed", {"n": n}, scorecard_id=None)
        await session.commit()
        committed = time.perf_counter()
    await asyncio.wait_for(state.all_arrived.wait(), timeout=max(60, events / 50))
    elapsed = max(state.arrivals.values()) - committed
    duplicates = sum(c - 1 for c in state.counts.values())
    return {
        "events": events,
        "seconds": round(elapsed, 2),
        "deliveries_per_s": round(events / elapsed),
        "duplicates": duplicates,
    }


async def run(url: str, plan: Plan) -> dict[str, Any]:
    from app.core.database import make_engine

    state = ReceiverState()
    server = await asyncio.get_running_loop().create_server(lambda: Receiver(state), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = make_engine(url, pool_size=2)
    try:
        await subscribe(engine, f"http://127.0.0.1:{port}/hook")
        with workers(url, 1):
            await wait_for_listeners(engine, 1)
            await measure_latency(engine, state, 5)  # warm-up: connections, caches
            latencies = await measure_latency(engine, state, plan.latency_events)
        with workers(url, 2):
            await wait_for_listeners(engine, 2)
            throughput = await measure_throughput(engine, state, plan.throughput_events)
    finally:
        await engine.dispose()
        server.close()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "latency_ms": {
            "events": len(latencies),
            "p50": round(statistics.median(latencies), 1),
            "p99": round(cuts[98], 1),
            "max": round(max(latencies), 1),
        },
        "throughput": throughput,
    }


def report(result: dict[str, Any]) -> None:
    latency, throughput = result["latency_ms"], result["throughput"]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print(f"commit-to-receipt latency over {latency['events']} single events (1 worker):")
    print(f"  p50 {latency['p50']} ms (target ≤ 50)  {verdict(latency['p50'] <= 50)}")
    print(f"  p99 {latency['p99']} ms (target ≤ 250) {verdict(latency['p99'] <= 250)}")
    print(f"  max {latency['max']} ms")
    print(f"throughput, 2 worker processes, {throughput['events']} events in one commit:")
    rate = throughput["deliveries_per_s"]
    print(
        f"  {rate} deliveries/s over {throughput['seconds']} s (target ≥ 500)  "
        f"{verdict(rate >= 500)}"
    )
    print(f"  duplicates: {throughput['duplicates']}")


def parse_args(argv: list[str] | None) -> tuple[Plan, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhooks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events", type=int, default=10_000, help="events for the throughput run (default 10,000)"
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        return Plan(latency_events=30, throughput_events=1_000), True
    return Plan(latency_events=300, throughput_events=args.events), False


def main(argv: list[str] | None = None) -> int:

    plan, quick = parse_args(argv)
    with scratch_database("scorecard-bench-webhooks-") as (url, _):
        result = asyncio.run(run(url, plan))
    result["machine"] = machine()
    report(result)
    out = save_results("webhooks", result, quick=quick)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Memory benchmark: `python -m bench.memory [--quick] [--rounds R]`.

Against a real `scorecard serve --no-worker` process (and an embedded PostgreSQL, whose memory
is not counted), for each endpoint that takes a body: five concurrent bodies of just under the
10 MiB limit, R rounds (default 3), one endpoint after the other:

- `POST /v1/readings/batch`: 10,000 readings, notes padded to fill the body (stored);
- `POST /v1/readings/import`: the same as CSV (stored);
- `POST /xapi/statements`: an array of ~30,000 statements (stored);
- `POST /v1/scorecards`: a JSON object with a 10 MiB name (rejected, 422).

Samples the server's RSS (the serve process and its children) every 20 ms and prints, against
the targets — peak ≤ 300 MB, and back within 50 MB of the baseline once it settles — the
baseline, the peak per endpoint, and the RSS after settling; writes the same to
bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psutil

from bench.common import machine, save_results, scratch_database
from tests.e2e.server import running_server, scorecard_cli

LIMIT = 10 * 1024 * 1024
TARGET_PEAK_MB, TARGET_SETTLE_MB = 300, 50
CONCURRENT = 5
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"


def rss_mb(server: psutil.Process) -> float:
    """The server process and its children (uvicorn workers); PostgreSQL is not a child."""
    total = 0
    for process in [server, *server.children(recursive=True)]:
        with suppress(psutil.Error):
            total += process.memory_info().rss
    return total / 2**20


@contextmanager
def peak_rss(server: psutil.Process) -> Iterator[dict[str, float]]:
    stats = {"peak_mb": rss_mb(server)}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            stats["peak_mb"] = max(stats["peak_mb"], rss_mb(server))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield stats
    finally:
        done.set()
        thread.join()


def settle(server: psutil.Process, seconds: float = 5.0) -> float:
    """RSS once it stops falling (or after `seconds`)."""
    last, deadline = rss_mb(server), time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rss_mb(server)
        if abs(now - last) < 0.5:
            return now
        last = now
    return last


def _pad(make: Callable[[int], bytes], budget: int) -> bytes:
    """The largest body `make(pad)` under `budget` bytes (make grows with pad)."""
    low, high = 0, budget
    while low < high:
        middle = (low + high + 1) // 2
        if len(make(middle)) <= budget:
            low = middle
        else:
            high = middle - 1
    return make(low)


def batch_body(measure_id: str, tag: str) -> bytes:
    now = datetime.now(UTC)

    def make(pad: int) -> bytes:
        note = "n" * min(pad // 10_000, 10_000)
        readings = [
            {
                "measure_id": measure_id,
                "value": i % 100,
                "observed_at": (now - timedelta(minutes=i)).isoformat(),
                "external_id": f"{tag}-{i}",
                "note": note,
            }
            for i in range(10_000)
        ]
        return orjson.dumps({"readings": readings})

    return _pad(make, LIMIT - 1024)


def csv_body(measure_id: str, tag: str) -> bytes:
    now = datetime.now(UTC)

    def make(pad: int) -> bytes:
        note = "n" * min(pad // 10_000, 10_000)
        lines = ["measure_id,value,observed_at,external_id,note"]
        lines += [
            f"{measure_id},{i % 100},{(now - timedelta(minutes=i)).isoformat()},{tag}-{i},{note}"
            for i in range(10_000)
        ]
        return ("\n".join(lines) + "\n").encode()

    return _pad(make, LIMIT - 1024)


def statements_body() -> bytes:
    now = datetime.now(UTC)
    statements: list[bytes] = []
    size = 2
    while True:
        i = len(statements)
        one = orjson.dumps(
            {
                "id": str(uuid.uuid4()),
                "actor": {"mbox": f"mailto:learner{i}@example.com"},
                "verb": {"id": COMPLETED, "display": {"en-US": "completed"}},
                "object": {"id": f"https://lms.example.com/course/{i % 50}"},
                "result": {"completion": True, "score": {"scaled": 0.8}},
                "timestamp": (now - timedelta(seconds=i)).isoformat(),
            }
        )
        if size + len(one) + 1 > LIMIT - 1024:
            return b"[" + b",".join(statements) + b"]"
        statements.append(one)
        size += len(one) + 1


def scorecard_body() -> bytes:
    return orjson.dumps({"name": "x" * (LIMIT - 1024 - 20)})


def fire(
    base_url: str, key: str, path: str, bodies: list[bytes], headers: dict[str, str]
) -> set[int]:
    def post(body: bytes) -> int:
        with httpx.Client(base_url=base_url, timeout=300) as http:
            response = http.post(
                path, content=body, headers={"Authorization": f"Bearer {key}", **headers}
            )
            return response.status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        return set(pool.map(post, bodies))


def run(url: str, rounds: int) -> dict[str, Any]:
    with running_server(url, "--no-worker") as (base_url, process):
        created = scorecard_cli(
            "api-keys", "create", "--name", "bench", "--scope", "admin", env={"DATABASE_URL": url}
        )
        key = created.stdout.strip()
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base_url, headers=auth, timeout=30) as http:
            scorecard = http.post("/v1/scorecards", json={"name": "Memory"}).json()["id"]
            measure = http.post(
                f"/v1/scorecards/{scorecard}/measures",
                json={
                    "key": "m",
                    "name": "M",
                    "perspective": "customer",
                    "direction": "increase",
                    "baseline": 0,
                    "target": 100,
                    # so that statements also become readings
                    "xapi": {"verb": COMPLETED, "value": "score_scaled"},
                },
            ).json()["id"]
        server = psutil.Process(process.pid)
        xapi_headers = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}
        # Warm up every endpoint's code path once with a small body, so that the baseline
        # counts what a first use imports and caches (a server in service has done it long ago).
        for path, body, headers in (
            ("/v1/readings/batch", b'{"readings": []}', {"Content-Type": "application/json"}),
            (
                "/v1/readings/import",
                csv_body(measure, "warm")[:200].rsplit(b"\n", 1)[0] + b"\n",
                {"Content-Type": "text/csv"},
            ),
            ("/xapi/statements", statements_body()[:2000].rsplit(b",{", 1)[0] + b"]", xapi_headers),
            ("/v1/scorecards", b'{"name": ""}', {"Content-Type": "application/json"}),
        ):
            fire(base_url, key, path, [body], headers)
        time.sleep(1)
        baseline = settle(server)
        endpoints: list[tuple[str, str, Callable[[int], list[bytes]], dict[str, str]]] = [
            (
                "batch",
                "/v1/readings/batch",
                lambda r: [batch_body(measure, f"b{r}-{c}") for c in range(CONCURRENT)],
                {"Content-Type": "application/json"},
            ),
            (
                "csv",
                "/v1/readings/import",
                lambda r: [csv_body(measure, f"c{r}-{c}") for c in range(CONCURRENT)],
                {"Content-Type": "text/csv"},
            ),
            (
                "xapi",
                "/xapi/statements",
                lambda r: [statements_body() for _ in range(CONCURRENT)],
                xapi_headers,
            ),
            (
                "scorecard",
                "/v1/scorecards",
                lambda r: [scorecard_body()] * CONCURRENT,
                {"Content-Type": "application/json"},
            ),
        ]
        results: dict[str, Any] = {}
        for name, path, make_bodies, headers in endpoints:
            peaks, statuses = [], set()
            for round_ in range(rounds):
                bodies = make_bodies(round_)
                with peak_rss(server) as stats:
                    statuses |= fire(base_url, key, path, bodies, headers)
                peaks.append(stats["peak_mb"])
                del bodies
            results[name] = {
                "body_mb": round(len(make_bodies(99)[0]) / 2**20, 2),
                "statuses": sorted(statuses),
                "peak_mb": round(max(peaks), 1),
                "after_mb": round(settle(server), 1),
            }
            print(f"  {name:9} statuses {sorted(statuses)}  peak {max(peaks):6.1f} MB", flush=True)
        settled = settle(server, seconds=10)
    peak = max(r["peak_mb"] for r in results.values())
    return {
        "machine": machine(),
        "rounds": rounds,
        "concurrent": CONCURRENT,
        "baseline_mb": round(baseline, 1),
        "endpoints": results,
        "peak_mb": round(peak, 1),
        "settled_mb": round(settled, 1),
        "settled_over_baseline_mb": round(settled - baseline, 1),
        "targets": {"peak_mb": TARGET_PEAK_MB, "settled_over_baseline_mb": TARGET_SETTLE_MB},
    }


def report(result: dict[str, Any]) -> bool:
    peak_ok = result["peak_mb"] <= TARGET_PEAK_MB
    settle_ok = result["settled_over_baseline_mb"] <= TARGET_SETTLE_MB
    print(f"\nserver RSS, {result['concurrent']} concurrent bodies of ~10 MiB per endpoint:")
    print(f"  baseline            {result['baseline_mb']:6.1f} MB")
    for name, figures in result["endpoints"].items():
        print(
            f"  {name:9} peak      {figures['peak_mb']:6.1f} MB   "
            f"after {figures['after_mb']:6.1f} MB"
        )
    print(
        f"  peak                {result['peak_mb']:6.1f} MB   target ≤ {TARGET_PEAK_MB} MB  "
        f"{'ok' if peak_ok else 'MISSED'}"
    )
    print(
        f"  settled             {result['settled_mb']:6.1f} MB   "
        f"+{result['settled_over_baseline_mb']:.1f} MB, target ≤ +{TARGET_SETTLE_MB} MB  "
        f"{'ok' if settle_ok else 'MISSED'}"
    )
    return peak_ok and settle_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per endpoint (default 3)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one round")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else max(1, args.rounds)
    with scratch_database("scorecard-bench-memory-") as (url, _):
        result = run(url, rounds)
    ok = report(result)
    print(f"\nwritten to {save_results('memory', result, quick=args.quick)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

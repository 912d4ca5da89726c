"""Reads through a streaming replica against the same service reading the primary alone.

    python -m bench.replica [--quick] [--seconds N] [--rounds N]

The data of `bench.crud` (one scorecard of 100 measures with 100 readings each, 60
scorecards), a streaming replica of it (`tests/replica_server.py`), and two `scorecard serve
--workers 1 --no-worker` side by side on the same primary: one with
`SCORECARD_READ_DATABASE_URL` set to the replica, the baseline without. Scores are not reused
(`SCORECARD_SCORE_CACHE_SECONDS=0`) so every score read computes. Each endpoint is measured
with wrk, replica then baseline, `--rounds` times. Both servers and both PostgreSQL servers
share one machine: the figure is the cost of routing (the position check, the other pool),
not the capacity a replica on its own machine adds. The share of reads the replica answered
(the rest went to the primary because it lagged) is read from the server's /metrics.
Results: bench/results/replica.json (replica-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench.common import WRK_CONNECTIONS, WRK_THREADS, machine, save_results, scratch_database
from bench.common import wrk as common_wrk
from bench.crud import SERVE, seed
from tests.e2e.server import running_http_process
from tests.replica_server import streaming_replica

ROOT = Path(__file__).resolve().parents[1]


def served_by(client: httpx.Client) -> dict[str, float]:
    text = client.get("/metrics").text
    found = re.findall(r'^scorecard_replica_reads_total\{served_by="(\w+)"\} (\S+)$', text, re.M)
    return {name: float(value) for name, value in found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replica", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 s")
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per series")
    parser.add_argument("--rounds", type=int, default=2, help="pairs per endpoint")
    args = parser.parse_args(argv)
    seconds, rounds = (2, 1) if args.quick else (args.seconds, args.rounds)

    from app.core.logging import configure_logging

    configure_logging("WARNING")
    results: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="scorecard-replica-bench-") as tmp,
        scratch_database("scorecard-replica-db-") as (url, _),
        ExitStack() as stack,
    ):
        scratch = Path(tmp)
        print("seeding …", flush=True)
        fx = asyncio.run(seed(url))
        replica_url = stack.enter_context(streaming_replica(url))
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
            "SCORECARD_SCORE_CACHE_SECONDS": "0",
        }

        def start(name: str, extra: dict[str, str]) -> str:
            base_url, _ = stack.enter_context(
                running_http_process(
                    [sys.executable, *SERVE],
                    env={**env, **extra},
                    log_path=scratch / f"{name}.log",
                    cwd=ROOT,
                    start_timeout=60,
                    stop_timeout=30,
                )
            )
            return base_url

        ours_url = start("replica", {"SCORECARD_READ_DATABASE_URL": replica_url})
        base_url = start("primary", {})
        measure = fx.measure_ids[0]
        targets = [
            ("GET scorecard score (100 measures)", f"/v1/scorecards/{fx.scorecard_id}/score"),
            ("GET measure history (12 months)", f"/v1/measures/{measure}/history"),
            ("GET readings list (50)", f"/v1/measures/{measure}/readings"),
            ("GET scorecards list (50)", "/v1/scorecards"),
        ]
        auth = {"Authorization": f"Bearer {fx.api_key}"}
        ours = stack.enter_context(httpx.Client(base_url=ours_url, headers=auth, timeout=30))
        base = stack.enter_context(httpx.Client(base_url=base_url, headers=auth, timeout=30))
        for _, path in targets:
            a, b = ours.get(path), base.get(path)
            assert a.status_code == b.status_code == 200, (path, a.text[:300], b.text[:300])
        print(f"measuring: wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s …", flush=True)
        series: dict[str, dict[str, list[dict[str, Any]]]] = {
            label: {"replica": [], "primary": []} for label, _ in targets
        }
        shares: dict[str, list[float]] = {label: [] for label, _ in targets}
        for _ in range(rounds):
            for label, path in targets:
                before = served_by(ours)
                series[label]["replica"].append(common_wrk(ours_url + path, fx.api_key, seconds))
                after = served_by(ours)
                moved = {k: after.get(k, 0) - before.get(k, 0) for k in ("replica", "primary")}
                shares[label].append(moved["replica"] / max(1.0, sum(moved.values())))
                series[label]["primary"].append(common_wrk(base_url + path, fx.api_key, seconds))
        for label, _ in targets:
            row: dict[str, Any] = {"endpoint": label}
            for side in ("replica", "primary"):
                runs = series[label][side]
                row[side] = round(sum(r["rps"] for r in runs) / len(runs))
                row[f"{side}_p99"] = [r["p99"] for r in runs]
                row[f"{side}_errors"] = sum(r["errors"] for r in runs)
            row["ratio"] = round(row["replica"] / row["primary"], 2) if row["primary"] else None
            row["answered_by_replica"] = round(sum(shares[label]) / len(shares[label]), 2)
            results.append(row)

    header = f"{'replica req/s':>14}{'primary req/s':>15}{'ratio':>8}{'on replica':>12}"
    print(f"\n{'endpoint':<38}{header}")
    for row in results:
        print(
            f"{row['endpoint']:<38}{row['replica']:>14,}{row['primary']:>15,}"
            f"{row['ratio']:>8.0%}{row['answered_by_replica']:>12.0%}"
        )
    out = save_results(
        "replica",
        {
            "machine": machine(),
            "wrk": f"-t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s, {rounds} round(s)",
            "endpoints": results,
        },
        quick=args.quick,
    )
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

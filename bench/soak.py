"""Soak: the scale-out layout under a steady mixed load for minutes.

    python -m bench.soak [--minutes 5] [--connections 16]

One embedded PostgreSQL; `scorecard serve --workers 2 --no-worker` (two API processes) and two
`scorecard worker` processes delivering webhooks to a receiver in this process. Seeded with 20
scorecards of 5 measures (a year of weekly readings each) and one webhook subscription. Then
`wrk -t2 -cC` with a Lua script (`LUA` below) sends the mix:

- 80 % score reads (`GET /v1/scorecards/{id}/score` of a random scorecard);
- 15 % writes (`POST /v1/measures/{id}/readings`, a random value now: statuses change, so
  crossings are detected and their events delivered by the workers);
- 5 % CRUD (a scorecard, the list of scorecards, a measure; or a new scorecard).

After a warm-up (a tenth of the run, at least 15 s), the run is measured in one-minute
segments: throughput, p50, p99 and errors of each, the first segment being the baseline the
later ones are compared with (a soak is about staying level), and the resident memory (RSS)
of each process at the start and end of the measured part. Targets: 0 errors, every process's
RSS growth < 10 %. Results: bench/results/soak.json (soak-quick.json under a minute).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import machine, save_results, scratch_database
from bench.webhooks import WORKERS_ENV, workers
from tests.e2e.server import cli_key, running_server
from tests.webhooks.receiver import Receiver

HERE = Path(__file__).resolve().parent
SCORECARDS, MEASURES, WEEKS = 20, 5, 52
TARGET_RSS_GROWTH = 0.10


def seed(base_url: str, key: str, receiver_url: str) -> tuple[list[str], list[str]]:
    """Scorecards, measures and readings through the API; returns (scorecard ids, measure
    ids)."""
    headers = {"Authorization": f"Bearer {key}"}
    scorecards, measures = [], []
    now = datetime.now(UTC)
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        for s in range(SCORECARDS):
            scorecard = http.post("/v1/scorecards", json={"name": f"Soak {s}"})
            scorecard.raise_for_status()
            scorecards.append(scorecard.json()["id"])
            for m in range(MEASURES):
                measure = http.post(
                    f"/v1/scorecards/{scorecards[-1]}/measures",
                    json={
                        "key": f"m{m}",
                        "name": f"Measure {m}",
                        "perspective": "customer",
                        "direction": "increase",
                        "baseline": 0,
                        "target": 100,
                    },
                )
                measure.raise_for_status()
                measures.append(measure.json()["id"])
        readings = [
            {
                "measure_id": measure_id,
                "value": (week * 7 + n) % 100,
                "observed_at": (now - timedelta(weeks=week)).isoformat(),
            }
            for n, measure_id in enumerate(measures)
            for week in range(1, WEEKS + 1)
        ]
        http.post("/v1/readings/batch", json={"readings": readings}).raise_for_status()
        http.post("/v1/webhooks", json={"url": receiver_url}).raise_for_status()
    return scorecards, measures


LUA = """
local key, scorecards, measures = nil, {}, {}
local counter = 0

function init(args)
  key = args[1]
  for id in string.gmatch(args[2], "[^,]+") do table.insert(scorecards, id) end
  for id in string.gmatch(args[3], "[^,]+") do table.insert(measures, id) end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["Content-Type"] = "application/json"
end

local function pick(list) return list[math.random(#list)] end

function request()
  local r = math.random()
  if r < 0.80 then
    return wrk.format("GET", "/v1/scorecards/" .. pick(scorecards) .. "/score")
  elseif r < 0.95 then
    local body = string.format('{"value": %d, "observed_at": "%s"}', math.random(0, 100),
                               os.date("!%Y-%m-%dT%H:%M:%SZ"))
    return wrk.format("POST", "/v1/measures/" .. pick(measures) .. "/readings", nil, body)
  end
  counter = counter + 1
  local kind = counter % 4
  if kind == 0 then
    return wrk.format("GET", "/v1/scorecards/" .. pick(scorecards))
  elseif kind == 1 then
    return wrk.format("GET", "/v1/scorecards?limit=20")
  elseif kind == 2 then
    return wrk.format("GET", "/v1/measures/" .. pick(measures))
  end
  return wrk.format("POST", "/v1/scorecards", nil, '{"name": "Soak CRUD"}')
end
"""


def run_wrk(
    base_url: str, script: Path, args: list[str], seconds: int, connections: int
) -> dict[str, Any]:
    """One wrk run of the mix: requests, req/s, p50 and p99 (ms), errors (non-2xx, socket)."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency"]
    result = subprocess.run(
        [*command, "-s", str(script), base_url, "--", *args],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    out = result.stdout
    found = re.search(r"(\d+) requests in", out)
    if result.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{out}{result.stderr}")
    errors = 0
    if bad := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(bad.group(1))
    if socket_errors := re.search(r"Socket errors:(.*)", out):
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return {
        "requests": int(found.group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "errors": errors,
    }


def _ms(value: str) -> float:
    number = float(re.match(r"[\d.]+", value).group())  # type: ignore[union-attr]
    unit = value.removeprefix(re.match(r"[\d.]+", value).group())  # type: ignore[union-attr]
    return round(number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit], 3)


def rss_mb(processes: dict[str, psutil.Process]) -> dict[str, float]:
    sizes = {}
    for name, process in processes.items():
        with suppress(psutil.Error):
            sizes[name] = round(process.memory_info().rss / 2**20, 1)
    return sizes


def soak(minutes: float, connections: int) -> dict[str, Any]:
    total = max(10, round(minutes * 60))
    warm_up = max(15, total // 10)
    segment = min(60, total)
    receiver = Receiver()
    with ExitStack() as stack:
        url, _ = stack.enter_context(scratch_database("scorecard-soak-"))
        key = cli_key(url, scope="write")
        admin = cli_key(url, name="soak admin", scope="admin")
        base_url, server = stack.enter_context(
            running_server(url, "--workers", "2", "--no-worker", env=WORKERS_ENV, start_timeout=180)
        )
        scorecards, measures = seed(base_url, admin, receiver.url)
        worker_procs = stack.enter_context(workers(url, 2))
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        script = scratch / "soak.lua"
        script.write_text(LUA)
        args = [key, ",".join(scorecards), ",".join(measures)]

        print(f"soak: warm-up {warm_up} s", file=sys.stderr, flush=True)
        warm = run_wrk(base_url, script, args, warm_up, connections)
        supervisor = psutil.Process(server.pid)
        processes = {"serve": supervisor}
        api = [c for c in supervisor.children() if "resource_tracker" not in " ".join(c.cmdline())]
        for n, child in enumerate(api, start=1):  # uvicorn's workers
            processes[f"api-{n}"] = child
        for n, worker in enumerate(worker_procs, start=1):
            processes[f"worker-{n}"] = psutil.Process(worker.pid)
        rss_start = rss_mb(processes)
        segments = []
        left = total
        while left > 0:
            seconds = min(segment, left)
            segments.append(run_wrk(base_url, script, args, seconds, connections))
            left -= seconds
            done = total - left
            print(f"soak: {done}/{total} s {segments[-1]}", file=sys.stderr, flush=True)
        rss_end = rss_mb(processes)
        delivered = len(receiver.requests)
    receiver.close()

    requests = sum(s["requests"] for s in segments)
    growth = {
        name: round(rss_end[name] / rss_start[name] - 1, 4) for name in rss_start if name in rss_end
    }
    first, last = segments[0], segments[-1]
    return {
        "minutes": total / 60,
        "connections": connections,
        "warm_up": warm,
        "segments": segments,
        "requests": requests,
        "rps": round(requests / total, 1),
        "errors": sum(s["errors"] for s in segments) + warm["errors"],
        "last_vs_first_segment": {
            "rps": round(last["rps"] / first["rps"], 3),
            "p50": round(last["p50_ms"] / first["p50_ms"], 3),
            "p99": round(last["p99_ms"] / first["p99_ms"], 3),
        },
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_end,
        "rss_growth": growth,
        "webhooks_delivered": delivered,
        "targets": {"errors": 0, "rss_growth_below": TARGET_RSS_GROWTH},
        "machine": {**machine(), "load_average": os.getloadavg()},
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0, help="measured minutes (5)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--quick", action="store_true", help="half a minute (smoke test)")
    args = parser.parse_args(argv)
    minutes = 0.5 if args.quick else args.minutes
    result = soak(minutes, args.connections)
    out = save_results("soak", result, quick=minutes < 1)
    growth = ", ".join(f"{name} {g:+.1%}" for name, g in result["rss_growth"].items())
    print(
        f"soak {result['minutes']:.1f} min, {args.connections} connections: "
        f"{result['rps']:.0f} req/s, {result['requests']} requests, {result['errors']} errors; "
        f"first minute p50 {result['segments'][0]['p50_ms']} ms p99 "
        f"{result['segments'][0]['p99_ms']} ms; last/first: {result['last_vs_first_segment']}; "
        f"RSS growth: {growth}; webhooks delivered: {result['webhooks_delivered']}\n-> {out}"
    )
    ok = result["errors"] == 0 and all(g < TARGET_RSS_GROWTH for g in result["rss_growth"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

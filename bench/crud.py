"""CRUD throughput: the service's reads and two writes against a bare FastAPI + asyncpg app
(`bench/crud_baseline.py`) that checks the same API key the same way and returns the same
rows and fields.

    python -m bench.crud [--quick] [--seconds N] [--rounds N]

One scratch database, seeded with 60 scorecards, 60 objectives and 100 measures (with
thresholds) on one of them, and 100 readings per measure. `scorecard serve --workers 1
--no-worker` and the baseline (uvicorn, one worker, the same loop and httptools) run side by
side; each endpoint is measured with `wrk -t2 -c32 -dNs`, ours then the baseline's, for every
endpoint in turn, `--rounds` times; req/s are averaged over rounds. Writes: POST of a measure
(a new key each request) and of a reading (spread over the 100 measures) against a bare
INSERT ... RETURNING. Results: bench/results/crud.json (crud-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import WRK_CONNECTIONS, WRK_THREADS, machine, save_results, scratch_database
from bench.common import wrk as common_wrk
from tests.e2e.server import running_http_process

ROOT = Path(__file__).resolve().parents[1]

SCORECARDS, OBJECTIVES, MEASURES, READINGS_PER_MEASURE = 60, 60, 100, 100
TARGET_RATIO = 0.60  # reads, from the contract issue
SERVE = ("-m", "app", "serve", "--workers", "1", "--no-migrate", "--no-worker")
# uvicorn's defaults as `scorecard serve` uses them: loop "auto" (uvloop when installed), httptools.
BASELINE = ("-m", "uvicorn", "bench.crud_baseline:app", "--workers", "1", "--http", "httptools")
BASELINE += ("--log-level", "warning", "--no-access-log")
PERSPECTIVES = ("financial", "customer", "internal_process", "learning_growth")


@dataclass
class Fixtures:
    api_key: str
    scorecard_id: str
    objective_ids: list[str]
    measure_ids: list[str]
    reading_id: str
    # POST measure writes here: thousands of measures added to the read scorecard (the baseline
    # inserts ~1,500/s) would make every later write on it, and its reads, another workload.
    writes_scorecard_id: str
    writes_objective_id: str


async def seed(url: str) -> Fixtures:
    """Scorecards, objectives and measures through the service layer (valid definitions);
    readings through SQL."""
    from sqlalchemy import text

    from app.auth.keys import Scope, create_api_key
    from app.core.database import make_engine, make_sessionmaker
    from app.measures.schemas import MeasureCreate
    from app.measures.service import create_measure
    from app.scorecards.schemas import ObjectiveCreate, ScorecardCreate
    from app.scorecards.service import create_objective, create_scorecard

    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            _, api_key = await create_api_key(session, "bench", Scope.write)
            await session.commit()
            main = await create_scorecard(
                session, ScorecardCreate(name="Bench: CRUD", owner="L&D", timezone="UTC")
            )
            fillers = [
                await create_scorecard(session, ScorecardCreate(name=f"Bench filler {n}"))
                for n in range(SCORECARDS - 1)
            ]
            writes_objective = await create_objective(
                session,
                fillers[0].id,
                ObjectiveCreate(perspective="financial", name="Posted measures"),
            )
            objectives = [
                await create_objective(
                    session,
                    main.id,
                    ObjectiveCreate(
                        perspective=PERSPECTIVES[n % 4], name=f"Objective {n}", weight=1 + n % 3
                    ),
                )
                for n in range(OBJECTIVES)
            ]
            measures = [
                await create_measure(
                    session,
                    main.id,
                    MeasureCreate(
                        key=f"measure-{n:03d}",
                        name=f"Measure {n}",
                        description="Completion rate of the onboarding programme",
                        unit="%",
                        objective_id=objectives[n % OBJECTIVES].id,
                        direction="increase",
                        baseline=0,
                        target=100,
                        thresholds={"green": 90, "amber": 70},
                        level="learning",
                    ),
                )
                for n in range(MEASURES)
            ]
            await session.execute(
                text("""
                INSERT INTO readings (id, measure_id, value, observed_at, source)
                SELECT gen_random_uuid(), m.id, g * 1.5, now() - g * interval '1 day', 'bench'
                FROM measures m, generate_series(1, :n) g
            """),
                {"n": READINGS_PER_MEASURE},
            )
            await session.commit()
            reading = await session.scalar(text("SELECT id FROM readings LIMIT 1"))
            return Fixtures(
                api_key,
                str(main.id),
                [str(o.id) for o in objectives],
                [str(m.id) for m in measures],
                str(reading),
                str(fillers[0].id),
                str(writes_objective.id),
            )
    finally:
        await engine.dispose()


# Processes and wrk


def _lua_post(paths: list[str], body: str, scratch: Path, name: str) -> Path:
    """A wrk script POSTing `body` round-robin over `paths`; `{n}` in the body becomes a
    string unique to the request (the run's nonce, the thread's number, a counter)."""
    script = scratch / f"{name}.lua"
    quoted = ", ".join(f'"{p}"' for p in paths)
    lua_body = body.replace('"', '\\"')
    lua_body = lua_body.replace("{n}", '" .. nonce .. "-" .. tid .. "-" .. counter .. "')
    script.write_text(f"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local paths = {{{quoted}}}
counter = 0
nonce = "0"
function init(args)
  nonce = args[1] or "0"
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function request()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  return wrk.format(nil, path, nil, "{lua_body}")
end
""")
    return script


def wrk(url: str, api_key: str, seconds: int, script: Path | None = None) -> dict[str, Any]:
    # A nonce for the POST scripts: unique measure keys per series.
    nonce = (f"{time.monotonic_ns():x}",) if script is not None else ()
    return common_wrk(url, api_key, seconds, script=script, script_args=nonce)


# The run


def endpoints(fx: Fixtures, scratch: Path) -> list[tuple[str, str, Path | None]]:
    """(label, path, wrk script or None for GET)."""
    measure = fx.measure_ids[0]
    observed = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    post_measure = _lua_post(
        [f"/v1/scorecards/{fx.writes_scorecard_id}/measures"],
        '{"key": "bench-{n}", "name": "Posted {n}", "objective_id": "'
        + fx.writes_objective_id
        + '", "perspective": "financial", "direction": "increase", "baseline": 0, '
        '"target": 100, "thresholds": {"green": 90, "amber": 70}}',
        scratch,
        "post_measure",
    )
    post_reading = _lua_post(
        [f"/v1/measures/{m}/readings" for m in fx.measure_ids],
        '{"value": 42.5, "observed_at": "' + observed + '"}',
        scratch,
        "post_reading",
    )
    return [
        ("GET /v1/scorecards/{id}", f"/v1/scorecards/{fx.scorecard_id}", None),
        ("GET /v1/scorecards (50)", "/v1/scorecards", None),
        ("GET /v1/objectives/{id}", f"/v1/objectives/{fx.objective_ids[0]}", None),
        ("GET objectives list (50)", f"/v1/scorecards/{fx.scorecard_id}/objectives", None),
        ("GET /v1/measures/{id}", f"/v1/measures/{measure}", None),
        ("GET measures list (50)", f"/v1/scorecards/{fx.scorecard_id}/measures", None),
        ("GET /v1/readings/{id}", f"/v1/readings/{fx.reading_id}", None),
        ("GET readings list (50)", f"/v1/measures/{measure}/readings", None),
        ("POST measure", f"/v1/scorecards/{fx.writes_scorecard_id}/measures", post_measure),
        ("POST reading", f"/v1/measures/{measure}/readings", post_reading),
    ]


def check_same_shape(ours: httpx.Client, base: httpx.Client, paths: list[str]) -> None:
    """Both servers answer every GET with 200 and the same fields (lists: the same rows)."""
    for path in paths:
        a, b = ours.get(path), base.get(path)
        assert a.status_code == b.status_code == 200, (path, a.text[:300], b.text[:300])
        x, y = a.json(), b.json()
        if "items" in x:
            assert [i["id"] for i in x["items"]] == [i["id"] for i in y["items"]], path
            assert x["next_cursor"] == y["next_cursor"], path
            x, y = x["items"][0], y["items"][0]
        assert list(x) == list(y), (path, list(x), list(y))
        assert x == y, (path, x, y)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crud", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 s")
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per series")
    parser.add_argument("--rounds", type=int, default=2, help="ours/baseline pairs per endpoint")
    args = parser.parse_args(argv)
    seconds, rounds = (2, 1) if args.quick else (args.seconds, args.rounds)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 1

    from app.core.logging import configure_logging

    configure_logging("WARNING")
    results: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="scorecard-crud-") as tmp,
        scratch_database("scorecard-crud-db-") as (url, _),
        ExitStack() as stack,
    ):
        scratch = Path(tmp)
        print("seeding …", flush=True)
        fx = asyncio.run(seed(url))
        env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}

        def start(name: str, command: list[str]) -> str:
            base_url, _ = stack.enter_context(
                running_http_process(
                    command,
                    env=env,
                    log_path=scratch / f"{name}.log",
                    cwd=ROOT,
                    start_timeout=60,
                    stop_timeout=30,
                )
            )
            return base_url

        ours_url = start("scorecard", [sys.executable, *SERVE])
        base_url = start("baseline", [sys.executable, *BASELINE])
        auth = {"Authorization": f"Bearer {fx.api_key}"}
        ours = stack.enter_context(httpx.Client(base_url=ours_url, headers=auth, timeout=30))
        base = stack.enter_context(httpx.Client(base_url=base_url, headers=auth, timeout=30))
        targets = endpoints(fx, scratch)
        check_same_shape(ours, base, [path for _, path, script in targets if script is None])
        series: dict[str, dict[str, list[dict[str, Any]]]] = {
            label: {"ours": [], "baseline": []} for label, _, _ in targets
        }
        print(f"measuring: wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s …", flush=True)
        for _ in range(rounds):
            for label, path, script in targets:
                for side, root in (("ours", ours_url), ("baseline", base_url)):
                    series[label][side].append(wrk(root + path, fx.api_key, seconds, script))
        for label, _, script in targets:
            row: dict[str, Any] = {"endpoint": label, "kind": "write" if script else "read"}
            for side in ("ours", "baseline"):
                runs = series[label][side]
                row[side] = round(sum(r["rps"] for r in runs) / len(runs))
                row[f"{side}_p99"] = [r["p99"] for r in runs]
                row[f"{side}_errors"] = sum(r["errors"] for r in runs)
            row["ratio"] = round(row["ours"] / row["baseline"], 2) if row["baseline"] else None
            results.append(row)

    print(f"\n{'endpoint':<28}{'ours req/s':>12}{'baseline req/s':>16}{'ratio':>8}")
    for row in results:
        flag = "" if row["kind"] == "write" or row["ratio"] >= TARGET_RATIO else "  < target"
        print(
            f"{row['endpoint']:<28}{row['ours']:>12,}{row['baseline']:>16,}"
            f"{row['ratio']:>8.0%}{flag}"
        )
    print(
        f"\nreads: target ≥ {TARGET_RATIO:.0%} of the baseline. writes: the baseline is a bare "
        "INSERT … RETURNING (no definition checks, measure lock or status refresh)."
    )
    out = save_results(
        "crud",
        {
            "machine": machine(),
            "wrk": f"-t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s, {rounds} round(s)",
            "data": {
                "scorecards": SCORECARDS,
                "objectives": OBJECTIVES,
                "measures": MEASURES,
                "readings_per_measure": READINGS_PER_MEASURE,
            },
            "endpoints": results,
        },
        quick=args.quick,
    )
    print(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

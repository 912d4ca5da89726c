"""Write-path cost of crossing detection: `python -m bench.write_path [--writes N] [--quick]`.

In one process against an embedded PostgreSQL, on a 40-measure scorecard (latest, sum, count,
mean and a derived measure) whose measures already hold readings, times one committed reading:

(a) plain: lock the measure, insert the reading, commit (`write_readings`);
(b) full:  the production path `record_readings` — lock, insert, re-evaluate the measure and the
    derived measures that use it at now, store the status, outbox event on a change — commit.

Alternates (a) and (b) in blocks of 25 so drift hits both alike. In the service every write
detects, so a process carries each window's statistics forward from write to write
(`app/thresholds/increments.py`); a block's first detecting writes, after plain ones, find them
stale and rescan the period, as after another process's write: they are reported apart
("first of a block") and included in the mean. Target: (b) ≤ 1.5 × (a). Writes
bench/results/write_path.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

from app.core.database import make_engine, make_sessionmaker
from app.measures.schemas import MeasureCreate
from app.measures.service import create_measure
from app.readings.partitions import KnownPartitions
from app.readings.service import NewReading, record_readings, write_readings
from app.scorecards.schemas import ScorecardCreate
from app.scorecards.service import create_scorecard
from app.thresholds.status import crossing_caches, lock_measures
from bench.common import save_results, scratch_database

AGGREGATIONS = ("latest", "sum", "count", "mean")


async def build(sessionmaker) -> list:  # type: ignore[no-untyped-def]
    async with sessionmaker() as session:
        scorecard = await create_scorecard(session, ScorecardCreate(name="write path"))
        measures = []
        for i in range(39):
            measures.append(
                await create_measure(
                    session,
                    scorecard.id,
                    MeasureCreate(
                        key=f"m{i}",
                        name=f"m{i}",
                        perspective="customer",
                        direction="increase",
                        baseline=0,
                        target=100,
                        aggregation=AGGREGATIONS[i % 4],
                    ),
                )
            )
        await create_measure(
            session,
            scorecard.id,
            MeasureCreate(
                key="ratio",
                name="ratio",
                perspective="customer",
                direction="increase",
                baseline=0,
                target=100,
                formula="m1 / m2 * 100",
            ),
        )
        now = datetime.now(UTC)
        await record_readings(
            session,
            [
                NewReading(
                    measure_id=m.id, value=float(d % 100), observed_at=now - timedelta(days=d)
                )
                for m in measures
                for d in range(0, 60)
            ],
        )
        await session.commit()
    return [m.id for m in measures]


async def one_write(sessionmaker, measure_id, value, full: bool) -> float:  # type: ignore[no-untyped-def]
    reading = NewReading(measure_id=measure_id, value=value, observed_at=datetime.now(UTC))
    started = time.perf_counter()
    async with sessionmaker() as session:
        if full:
            await record_readings(session, [reading])
        else:
            await lock_measures(session, [measure_id])
            await write_readings(session, [reading])
        await session.commit()
    return (time.perf_counter() - started) * 1000


BLOCK = 25


async def run(url: str, writes: int) -> dict[str, float]:
    engine = make_engine(url, pool_size=2)
    # The caches a serving process keeps across requests (definitions, carried-forward windows,
    # and the partitions it knows of, as the app's lifespan builds them).
    sessionmaker = make_sessionmaker(
        engine, info=crossing_caches().session_info() | KnownPartitions().session_info()
    )
    measure_ids = await build(sessionmaker)
    plain: list[float] = []
    full: list[float] = []
    cold: list[float] = []  # the first detecting write after plain ones
    warm_up = max(BLOCK, writes // 10)
    for i in range(warm_up):
        measure_id = measure_ids[1 + i % 2]  # inputs of the derived measure: worst case
        value = 95.0 if i % 4 < 2 else 10.0  # statuses keep crossing: events are written
        plain.append(await one_write(sessionmaker, measure_id, value, full=False))
    for first in range(0, writes, BLOCK):
        for i in range(first, min(first + BLOCK, writes)):
            measure_id = measure_ids[1 + i % 2]
            value = 95.0 if i % 4 < 2 else 10.0
            plain.append(await one_write(sessionmaker, measure_id, value, full=False))
        for i in range(first, min(first + BLOCK, writes)):
            measure_id = measure_ids[1 + i % 2]
            value = 95.0 if i % 4 < 2 else 10.0
            elapsed = await one_write(sessionmaker, measure_id, value, full=True)
            (cold if i - first < 2 else full).append(elapsed)
    await engine.dispose()
    plain = plain[warm_up:]
    result = {
        "writes": writes,
        "block": BLOCK,
        "plain_p50_ms": round(statistics.median(plain), 3),
        "full_p50_ms": round(statistics.median(full), 3),
        "full_cold_p50_ms": round(statistics.median(cold), 3),
        "plain_mean_ms": round(statistics.fmean(plain), 3),
        "full_mean_ms": round(statistics.fmean(full + cold), 3),
    }
    result["ratio_p50"] = round(result["full_p50_ms"] / result["plain_p50_ms"], 2)
    result["ratio_mean"] = round(result["full_mean_ms"] / result["plain_mean_ms"], 2)
    result["ratio_cold_p50"] = round(result["full_cold_p50_ms"] / result["plain_p50_ms"], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.write_path",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="200 writes")
    args = parser.parse_args(argv)
    with scratch_database("scorecard-bench-write-") as (url, _):
        result = asyncio.run(run(url, 200 if args.quick else args.writes))
    print(
        f"plain insert+commit   p50 {result['plain_p50_ms']:.2f} ms "
        f"(mean {result['plain_mean_ms']:.2f})"
    )
    print(
        f"with crossing detect. p50 {result['full_p50_ms']:.2f} ms "
        f"(mean {result['full_mean_ms']:.2f}, the blocks' first writes included)"
    )
    print(
        f"  first of a block    p50 {result['full_cold_p50_ms']:.2f} ms "
        f"({result['ratio_cold_p50']:.2f}x: the period rescanned, as after another process's "
        "write)"
    )
    verdict = "PASS" if result["ratio_p50"] <= 1.5 else "MISS"
    print(
        f"ratio {result['ratio_p50']:.2f}x p50, {result['ratio_mean']:.2f}x mean "
        f"(target ≤ 1.5x): {verdict}"
    )
    print(f"wrote {save_results('write_path', result, quick=args.quick)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

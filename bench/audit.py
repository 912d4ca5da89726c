"""What the audit log costs a write: `python -m bench.audit [--writes N] [--quick]`.

In one process against an embedded PostgreSQL, on the 40-measure scorecard of
`bench.write_path`, times the production service functions with and without their audit entry,
alternating in blocks so drift hits both alike:

(a) one reading: `readings.service.create_reading` (lock, insert, crossing detection, read
    back, commit; the entry rides on the read-back statement, `audit.log.fetch_recorded`);
(b) a batch of 1,000 readings: `readings.ingest.ingest` (the JSON batch and CSV path; one
    entry with counts, one INSERT).

"With" runs in a session that writes for an API key, as every API request does; "without" in
one that writes for nobody, where `record` returns before its INSERT — the same code path
short of the entry itself. Targets: (a) ≤ 1.10 × without, (b) no measurable difference.
Writes bench/results/audit.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from app.audit.log import Actor
from app.core.database import REQUEST_STATE, make_engine, make_sessionmaker
from app.readings.ingest import Batch, ReadingBatchItem, ingest
from app.readings.service import NewReading, create_reading
from app.thresholds.status import crossing_caches
from bench.common import save_results, scratch_database
from bench.write_path import build

BLOCK = 25
BATCH = 1000
AUDITED = SimpleNamespace(actor=Actor(uuid.uuid4(), "bench"))
UNAUDITED = SimpleNamespace()


async def one_write(sessionmaker, measure_id, value, audited: bool) -> float:  # type: ignore[no-untyped-def]
    reading = NewReading(measure_id=measure_id, value=value, observed_at=datetime.now(UTC))
    started = time.perf_counter()
    async with sessionmaker() as session:
        session.info[REQUEST_STATE] = AUDITED if audited else UNAUDITED
        await create_reading(session, reading)
    return (time.perf_counter() - started) * 1000


async def one_batch(sessionmaker, measure_ids, round_: int, audited: bool) -> float:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    batch = Batch(
        items=[
            ReadingBatchItem(
                measure_id=measure_ids[i % len(measure_ids)],
                value=float(i % 100),
                observed_at=now - timedelta(seconds=i),
                external_id=f"b{round_}-{i}",
            )
            for i in range(BATCH)
        ]
    )
    started = time.perf_counter()
    async with sessionmaker() as session:
        session.info[REQUEST_STATE] = AUDITED if audited else UNAUDITED
        await ingest(session, batch)
    return (time.perf_counter() - started) * 1000


def _summary(without: list[float], with_: list[float]) -> dict[str, float]:
    result = {
        "without_p50_ms": round(statistics.median(without), 3),
        "with_p50_ms": round(statistics.median(with_), 3),
        "without_mean_ms": round(statistics.fmean(without), 3),
        "with_mean_ms": round(statistics.fmean(with_), 3),
    }
    result["ratio_p50"] = round(result["with_p50_ms"] / result["without_p50_ms"], 3)
    result["ratio_mean"] = round(result["with_mean_ms"] / result["without_mean_ms"], 3)
    return result


async def run(url: str, writes: int, batches: int) -> dict[str, object]:
    engine = make_engine(url, pool_size=2)
    sessionmaker = make_sessionmaker(engine, info=crossing_caches().session_info())
    measure_ids = await build(sessionmaker)
    single: dict[bool, list[float]] = {True: [], False: []}
    for i in range(BLOCK):  # warm-up: caches, prepared statements
        await one_write(sessionmaker, measure_ids[1 + i % 2], 50.0, audited=i % 2 == 0)
    for first in range(0, writes, BLOCK):
        for audited in (False, True) if (first // BLOCK) % 2 == 0 else (True, False):
            for i in range(first, min(first + BLOCK, writes)):
                value = 95.0 if i % 4 < 2 else 10.0  # statuses keep crossing: events written
                single[audited].append(
                    await one_write(sessionmaker, measure_ids[1 + i % 2], value, audited)
                )
    bulk: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(batches):
        for audited in (False, True) if round_ % 2 == 0 else (True, False):
            tag = 2 * round_ + audited
            bulk[audited].append(await one_batch(sessionmaker, measure_ids, tag, audited))
    await engine.dispose()
    return {
        "writes": writes,
        "batches": batches,
        "batch_size": BATCH,
        "single": _summary(single[False], single[True]),
        "batch": _summary(bulk[False], bulk[True]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.audit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="200 writes, 10 batches")
    args = parser.parse_args(argv)
    with scratch_database("scorecard-bench-audit-") as (url, _):
        result = asyncio.run(
            run(url, 200 if args.quick else args.writes, 10 if args.quick else args.batches)
        )
    for name, target in (("single", 1.10), ("batch", 1.02)):
        figures = result[name]
        assert isinstance(figures, dict)
        verdict = "PASS" if figures["ratio_p50"] <= target else "MISS"
        print(
            f"{name:6}  without p50 {figures['without_p50_ms']:.2f} ms, "
            f"with {figures['with_p50_ms']:.2f} ms: {figures['ratio_p50']:.3f}x p50, "
            f"{figures['ratio_mean']:.3f}x mean (target ≤ {target:.2f}x): {verdict}"
        )
    print(f"wrote {save_results('audit', result, quick=args.quick)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""/metrics of `scorecard serve --workers 2`: every scrape counts every worker's requests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.e2e.server import cli_key, running_server

ROUTE = "/v1/scorecards"
BATCH = 40


def requests_counted(exposition: str) -> float:
    """scorecard_http_requests_total of ROUTE, summed over its label sets."""
    samples = re.findall(r"^scorecard_http_requests_total\{([^}]*)\} (\S+)$", exposition, re.M)
    return sum(float(value) for labels, value in samples if f'handler="{ROUTE}"' in labels)


def counted_by_each_worker(metrics_dir: Path) -> dict[str, float]:
    """Each worker's own count, read from its file alone (pid → requests)."""
    counts = {}
    for file in metrics_dir.glob("counter_*.db"):
        with tempfile.TemporaryDirectory() as alone:
            shutil.copy(file, alone)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=alone)
            counts[file.stem.removeprefix("counter_")] = requests_counted(
                generate_latest(registry).decode()
            )
    return counts


def settled_counts(metrics_dir: Path, sent: int) -> dict[str, float]:
    """Each worker's count once they add up to `sent`: a request is counted just after its
    response has gone out, so the last few may still be on their way."""
    deadline = time.monotonic() + 10
    while sum((counts := counted_by_each_worker(metrics_dir)).values()) != sent:
        assert time.monotonic() < deadline, (counts, sent)
        time.sleep(0.05)
    return counts


def workers_environment(pid: int) -> dict[str, str]:
    """The environment the server's worker processes started with (one is enough: the same)."""
    worker = psutil.Process(pid).children()[-1]
    return worker.environ()


def test_every_scrape_counts_the_requests_of_every_worker(clean_db):
    key = cli_key(clean_db)
    # What a `serve` killed with SIGKILL left behind, and what a running one uses.
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphaned = Path(tempfile.mkdtemp(prefix=f"scorecard-metrics-{dead.pid}-"))
    in_use = Path(tempfile.mkdtemp(prefix=f"scorecard-metrics-{os.getpid()}-"))
    with running_server(clean_db, "--workers", "2", "--no-worker") as (base_url, process):
        assert not orphaned.exists()
        assert in_use.exists()
        in_use.rmdir()
        metrics_dir = Path(workers_environment(process.pid)["PROMETHEUS_MULTIPROC_DIR"])

        def get(_: int) -> int:
            # A connection per request, several at once: both workers accept some.
            headers = {"Authorization": f"Bearer {key}"}
            return httpx.get(f"{base_url}{ROUTE}", headers=headers, timeout=10).status_code

        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while True:
                assert set(pool.map(get, range(BATCH))) == {200}
                sent += BATCH
                per_worker = settled_counts(metrics_dir, sent)
                if sum(1 for count in per_worker.values() if count) == 2 or sent >= 50 * BATCH:
                    break
        # Both workers answered some (other processes, such as the supervisor, may have files).
        assert sum(1 for count in per_worker.values() if count) == 2, per_worker
        # Whichever worker answers the scrape, it reports the requests of both.
        for _ in range(12):
            assert requests_counted(httpx.get(f"{base_url}/metrics", timeout=10).text) == sent
    # The directory was private to this server and went with it.
    assert not metrics_dir.exists()


def test_one_worker_keeps_its_metrics_in_memory(clean_db):
    with running_server(clean_db, env={"PROMETHEUS_MULTIPROC_DIR": "/nonexistent"}) as (
        base_url,
        _process,
    ):
        httpx.get(f"{base_url}/healthz", timeout=10)
        exposition = httpx.get(f"{base_url}/metrics", timeout=10).text
        # Process figures exist only in a single process's registry.
        assert "process_resident_memory_bytes" in exposition
        assert 'handler="/healthz"' in exposition

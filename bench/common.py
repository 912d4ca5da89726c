"""Plumbing shared by the benchmarks: a throw-away embedded database, the machine's description
and the results file. Running servers and the CLI: `tests.e2e.server`, shared with the tests."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.embedded import start_embedded, stop_embedded
from app.core.migrate import upgrade

RESULTS = Path(__file__).resolve().parent / "results"


@contextmanager
def scratch_database(prefix: str) -> Iterator[tuple[str, Path]]:
    """A migrated embedded PostgreSQL in a temporary directory: (url, data_dir). Stopped and
    deleted on exit. Call it outside a running event loop (migrations run their own)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        data_dir = Path(scratch) / "pg"
        url = start_embedded(data_dir, cleanup_mode="delete")
        try:
            upgrade(url)
            yield url, data_dir
        finally:
            stop_embedded(data_dir)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def save_results(name: str, result: dict[str, Any], *, quick: bool) -> Path:
    """Write bench/results/NAME.json (NAME-quick.json for a smoke run) and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}{'-quick' if quick else ''}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return out


def serve_flags() -> list[str]:
    """`--no-worker` when this version of `scorecard serve` has it (no webhook worker or
    sweeper competing for the CPU), so the benches also run against older checkouts."""
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    return ["--no-worker"] if "--no-worker" in result.stdout else []

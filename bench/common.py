"""Plumbing shared by the benchmarks: a throw-away embedded database, the machine's description
and the results file. Running servers and the CLI: `tests.e2e.server`, shared with the tests."""

from __future__ import annotations

import json
import os
import platform
import re
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
    with scratch_database_at(prefix, "head") as scratch:
        yield scratch


@contextmanager
def scratch_database_at(prefix: str, revision: str) -> Iterator[tuple[str, Path]]:
    """`scratch_database`, migrated up to `revision` only."""
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        data_dir = Path(scratch) / "pg"
        url = start_embedded(data_dir, cleanup_mode="delete")
        try:
            upgrade(url, revision)
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


WRK_THREADS, WRK_CONNECTIONS = 2, 32


def wrk(
    url: str,
    api_key: str | None,
    seconds: int,
    *,
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
    timeout: str = "2s",
) -> dict[str, Any]:
    """Requests/sec of `wrk -t2 -c32` against `url` (with a Lua `script` and its arguments
    when given): {"rps", "p99", "errors"}; errors (non-2xx, socket) are counted, not fatal."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s"]
    command += ["--timeout", timeout, "--latency"]
    if api_key:
        command += ["-H", f"Authorization: Bearer {api_key}"]
    if script is not None:
        command += ["-s", str(script)]
    tail = ["--", *script_args] if script_args else []
    result = subprocess.run(
        [*command, url, *tail], capture_output=True, text=True, timeout=seconds + 90
    )
    found = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if result.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    errors = 0
    if bad := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", result.stdout):
        errors += int(bad.group(1))
    if socket_errors := re.search(r"Socket errors:(.*)", result.stdout):
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    if errors:
        print(f"   wrk: {errors} errors against {url}", file=sys.stderr, flush=True)
    p99 = re.search(r"^\s+99%\s+(\S+)", result.stdout, re.MULTILINE)
    return {"rps": float(found.group(1)), "p99": p99.group(1) if p99 else None, "errors": errors}

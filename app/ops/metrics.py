"""Prometheus metrics: HTTP requests by route template, plus domain counters.

One process keeps its figures in memory. With `scorecard serve --workers N` (N > 1), `serve`
points PROMETHEUS_MULTIPROC_DIR at a fresh private directory before the workers start: each
worker then writes its figures to files there (prometheus-client's multiprocess mode), and
/metrics sums them, so any worker answering a scrape reports the requests of all of them."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client import generate_latest as _generate_latest

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def metrics_registry() -> CollectorRegistry:
    """What /metrics serves: this process's figures, or the sum over every worker's files."""
    if not os.environ.get(MULTIPROC_DIR):
        return PROCESS_REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def generate_latest() -> bytes:
    return _generate_latest(metrics_registry())


def process_exited(pid: int) -> None:
    """A worker is gone: drop its files of live-only gauges (its counts stay in the sums)."""
    if os.environ.get(MULTIPROC_DIR):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


READINGS_INGESTED = Counter(
    "scorecard_readings_ingested_total", "Readings stored (retries of stored readings excluded)."
)
# job: sweep (one scorecard), delivery (one delivery's processing, not a failed HTTP attempt),
# recording (writing one delivery's outcome), and each periodic job as a whole (sweep,
# retention, backlog). A failure is logged and counted; the job goes on with the rest.
BACKGROUND_FAILURES = Counter(
    "scorecard_background_failures_total",
    "Background work that raised: one item (or one periodic run) skipped, the rest went on.",
    ["job"],
)


# The two HTTP metrics ops use, by route template ("none" when no route matched). Recorded by
# the request middleware that also writes the access log: a metrics middleware of its own
# matched the route a second time and cost ~20 % of a small read (measured with bench/crud.py).
HTTP_REQUESTS = Counter(
    "scorecard_http_requests_total", "Requests answered.", ["method", "status", "handler"]
)
HTTP_LATENCY = Histogram(
    "scorecard_http_request_duration_seconds",
    "Time to answer a request.",
    ["method", "handler"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


# The labelled children by (method, route, status): `labels()` takes a lock and builds its key
# on every call, a third of the cost of recording a request.
_children: dict[tuple[str, str | None, int], tuple[Any, Any]] = {}


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    children = _children.get((method, route, status))
    if children is None:
        handler = route or "none"
        if handler == "/metrics":
            return
        children = (
            HTTP_REQUESTS.labels(method, str(status), handler),
            HTTP_LATENCY.labels(method, handler),
        )
        # Bounded like the metrics' own label sets: route templates and status codes are
        # finite, and the HTTP parser knows a fixed list of methods.
        _children[(method, route, status)] = children
    requests, latency = children
    requests.inc()
    latency.observe(seconds)

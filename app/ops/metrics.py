"""Prometheus metrics: HTTP by route template (prometheus-fastapi-instrumentator) plus domain
counters. Each process keeps its own registry; scrape each worker, or run one per container."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import Counter
from prometheus_fastapi_instrumentator import Instrumentator, metrics

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


def install_metrics(app: FastAPI) -> None:
    # The two metrics ops use, not the default five: the request and response size histograms
    # cost ~5% of a cached score request's CPU and nobody reads them.
    Instrumentator(
        should_group_status_codes=False,
        excluded_handlers=["/metrics"],
    ).add(
        metrics.requests(metric_namespace="scorecard"),
        metrics.latency(metric_namespace="scorecard", should_include_status=False),
    ).instrument(app)

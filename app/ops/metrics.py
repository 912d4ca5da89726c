"""Prometheus metrics: HTTP by route template (prometheus-fastapi-instrumentator) plus domain
counters. Each process keeps its own registry; scrape each worker, or run one per container."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import Counter
from prometheus_fastapi_instrumentator import Instrumentator

READINGS_INGESTED = Counter(
    "scorecard_readings_ingested_total", "Readings stored (retries of stored readings excluded)."
)


def install_metrics(app: FastAPI) -> None:
    Instrumentator(
        should_group_status_codes=False,
        excluded_handlers=["/metrics"],
    ).instrument(app, metric_namespace="scorecard")

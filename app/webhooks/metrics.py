"""Prometheus metrics of webhook delivery, per process (served by /metrics)."""

from prometheus_client import Counter, Gauge

# outcome: succeeded | retry_scheduled | failed (schedule exhausted, 410 Gone, disabled).
DELIVERIES = Counter(
    "scorecard_webhook_deliveries_total",
    "Webhook delivery attempts by outcome.",
    ["outcome"],
)
# Refreshed every few seconds by processes that run a worker; the same for all of them.
BACKLOG_PENDING = Gauge(
    "scorecard_webhook_backlog_pending",
    "Deliveries waiting to be sent, including scheduled retries.",
    # Across worker processes (multiprocess mode): the latest refresh wins, a dead one's too old.
    multiprocess_mode="mostrecent",
)
BACKLOG_OLDEST_DUE_AGE = Gauge(
    "scorecard_webhook_backlog_oldest_due_age_seconds",
    "How long the longest-waiting due delivery has waited to be sent.",
    multiprocess_mode="mostrecent",
)

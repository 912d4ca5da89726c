"""Configuration from the environment (the table in README.md), validated once at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_RETRY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str | None = None
    # A streaming replica of DATABASE_URL for score, history, dashboard and list reads
    # (app/core/replica.py); unset: every read goes to the primary.
    scorecard_read_database_url: str | None = None
    # Seconds to connect to the replica, or for it to say how far it has replayed, before a
    # read goes to the primary instead.
    scorecard_read_replica_timeout: PositiveFloat = 1.0
    scorecard_data_dir: Path = Path(".data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] = "console"
    scorecard_webhook_allow_private: bool = False
    scorecard_webhook_retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        default=DEFAULT_RETRY_SCHEDULE, min_length=1
    )
    scorecard_webhook_timeout: PositiveFloat = 10.0
    # Days the event log (with deliveries and attempts) is kept; the worker prunes hourly.
    scorecard_event_retention_days: PositiveInt = 30
    # Days the audit log is kept; the worker prunes older entries hourly.
    scorecard_audit_retention_days: PositiveInt = 400
    # Each process has two pools of this size (ORM, plain reads); the ORM's may double at peaks.
    scorecard_db_pool_size: PositiveInt = 5
    # How long a score of "now" may be reused while nothing it depends on changed; 0: never.
    scorecard_score_cache_seconds: NonNegativeFloat = 1.0
    # Slow or idle clients (app/core/protocol.py): seconds a client has to send a request head,
    # from connecting or from the previous response; open connections per process beyond which
    # requests get a 503; seconds an idle keep-alive connection is kept.
    scorecard_header_timeout: PositiveFloat = 10.0
    scorecard_max_connections: PositiveInt = 1000
    scorecard_keep_alive_timeout: PositiveInt = 5
    # DATABASE_URL leads to PgBouncer in transaction mode: no prepared statement outlives its
    # transaction (docs/scale-out.md). SCORECARD_DIRECT_DATABASE_URL then reaches PostgreSQL
    # itself, for what needs a session of its own: migrations (a session advisory lock) and
    # the worker's LISTEN. Unset: DATABASE_URL serves for those too.
    scorecard_db_pgbouncer: bool = False
    scorecard_direct_database_url: str | None = None
    # Set by `scorecard serve` (off with --no-worker) so its app runs a delivery worker.
    scorecard_worker_in_process: bool = False

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url", "scorecard_read_database_url", "scorecard_direct_database_url")
    @classmethod
    def _asyncpg_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return normalise_database_url(value)

    @field_validator("scorecard_webhook_retry_schedule", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                seconds = tuple(float(part) for part in value.split(",") if part.strip())
            except ValueError:
                raise ValueError("must be comma-separated seconds, e.g. 0,5,300") from None
            if any(s < 0 or s != s or s == float("inf") for s in seconds):
                raise ValueError("every delay must be a finite number of seconds >= 0")
            return seconds
        return value


def normalise_database_url(url: str) -> str:
    """Accept `postgresql://` or `postgres://` and hand SQLAlchemy the asyncpg dialect."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    raise ValueError("must be a PostgreSQL URL such as postgresql+asyncpg://user@host:5432/db")


@lru_cache
def get_settings() -> Settings:
    return Settings()

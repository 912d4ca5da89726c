"""The delivery worker: claims due deliveries, sends them signed, records what happened.
Which periodic jobs it also runs is decided in one place, `app.background`.

Any number of workers (in `serve` processes or `scorecard worker`) run side by side:
- claiming is `SELECT … FOR UPDATE SKIP LOCKED` plus a lease (`lease_expires_at`), committed
  before any HTTP, so no two workers hold one delivery, and a worker that dies mid-request only
  delays it until the lease expires (at-least-once, nothing lost);
- the attempt number is a fencing token: a result from a worker whose lease was taken over is
  logged as an attempt but cannot overwrite the new owner's state;
- workers sleep on LISTEN (woken by `emit_event`'s NOTIFY at commit) and poll every second and
  at the earliest scheduled retry, in case a notification is missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from time import perf_counter
from typing import Any

import asyncpg
import httpx
import structlog
from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.ids import new_id
from app.core.jsonutil import dumps
from app.core.logging import failure_fields
from app.core.settings import Settings
from app.ops.metrics import BACKGROUND_FAILURES
from app.webhooks.events import CHANNEL, event_payload
from app.webhooks.metrics import BACKLOG_OLDEST_DUE_AGE, BACKLOG_PENDING, DELIVERIES
from app.webhooks.retries import next_delay, parse_retry_after
from app.webhooks.service import backlog
from app.webhooks.signing import signed_headers
from app.webhooks.ssrf import DestinationRefused, check_port, public_addresses

log = structlog.get_logger(__name__)

Job = Callable[[], Awaitable[object]]
# (label in scorecard_background_failures_total, interval in seconds, job)
Periodic = tuple[str, float, Job]

CLAIM_BATCH = 50
MAX_IN_FLIGHT = 200
REQUESTS_PER_CLIENT = 8
POLL_INTERVAL = 1.0
# A lease outlives the longest possible attempt by this much before others may take over.
LEASE_MARGIN = 30.0
MAX_RESPONSE_BYTES = 64 * 1024
RESULT_BATCH = 500
BACKLOG_REFRESH = 5.0

_CLAIM = text("""
WITH expired AS (
    SELECT id FROM deliveries
    WHERE status = 'delivering' AND lease_expires_at <= now()
    ORDER BY lease_expires_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), claimed AS (
    -- Each branch walks its partial index; `due` is only read as far as needed.
    SELECT id FROM expired UNION ALL SELECT id FROM due
    LIMIT :limit
)
UPDATE deliveries d
SET status = 'delivering', attempts = d.attempts + 1,
    lease_expires_at = now() + make_interval(secs => :lease)
FROM events e, webhook_subscriptions s
WHERE d.id = ANY(ARRAY(SELECT id FROM claimed))  -- by primary key, never a scan
  AND e.id = d.event_id AND s.id = d.subscription_id
RETURNING d.id, d.attempts, d.subscription_id, s.url, s.active, s.secret,
    CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END AS previous_secret,
    e.id AS event_id, e.type AS event_type,
    -- A value the driver cannot decode would fail the whole batch, claimed and committed
    -- in the same statement, on every poll. Timestamps Python cannot hold come back NULL
    -- and the data as text, so that such a delivery fails on its own (see `_claimed`).
    CASE WHEN e.timestamp BETWEEN '0001-01-02' AND '9999-12-30' THEN e.timestamp END
        AS event_timestamp,
    e.data::text AS event_data
""")

_SECONDS_TO_NEXT_DUE = text("""
SELECT extract(epoch FROM least(
    (SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'),
    (SELECT min(lease_expires_at) FROM deliveries WHERE status = 'delivering')) - now())
""")

_RECORD_ATTEMPTS = text("""
INSERT INTO delivery_attempts (id, delivery_id, attempt, started_at, duration_ms, status_code,
                               error)
SELECT r.* FROM unnest(CAST(:ids AS uuid[]), CAST(:delivery_ids AS uuid[]),
                       CAST(:attempts AS int[]), CAST(:started AS timestamptz[]),
                       CAST(:durations AS float8[]), CAST(:codes AS int[]),
                       CAST(:errors AS text[]))
     AS r(id, delivery_id, attempt, started_at, duration_ms, status_code, error)
-- Skip deliveries deleted meanwhile (with their subscription); looked up by primary key.
WHERE r.delivery_id = ANY(ARRAY(
    SELECT id FROM deliveries WHERE id = ANY(CAST(:delivery_ids AS uuid[]))))
""")

# Only the attempt that holds the lease (same attempt number, still delivering) may finish it.
_FINISH_DELIVERIES = text("""
UPDATE deliveries d
SET status = r.status,
    next_attempt_at = CASE WHEN r.status = 'pending'
                           THEN now() + make_interval(secs => r.delay) END,
    lease_expires_at = NULL,
    last_attempt_at = r.started_at,
    last_status_code = r.status_code,
    last_error = r.error,
    completed_at = CASE WHEN r.status <> 'pending' THEN now() END
FROM unnest(CAST(:delivery_ids AS uuid[]), CAST(:attempts AS int[]),
            CAST(:statuses AS text[]), CAST(:delays AS float8[]),
            CAST(:started AS timestamptz[]), CAST(:codes AS int[]), CAST(:errors AS text[]))
     AS r(id, attempt, status, delay, started_at, status_code, error)
WHERE d.id = r.id AND d.status = 'delivering' AND d.attempts = r.attempt
""")

_DISABLE = """
UPDATE webhook_subscriptions
SET active = false, disabled_reason = :reason, version = version + 1, updated_at = now()
WHERE id = ANY(CAST(:ids AS uuid[])) AND active"""
_DISABLE_GONE = text(_DISABLE)
_DISABLE_FAILING = text(_DISABLE + " AND failing_since <= now() - interval '5 days'")
_START_FAILING = text("""
UPDATE webhook_subscriptions SET failing_since = now()
WHERE id = ANY(CAST(:ids AS uuid[])) AND failing_since IS NULL""")
_STOP_FAILING = text("""
UPDATE webhook_subscriptions SET failing_since = NULL
WHERE id = ANY(CAST(:ids AS uuid[])) AND failing_since IS NOT NULL""")

GONE_REASON = "the endpoint answered 410 Gone"
FAILING_REASON = "every delivery attempt failed for 5 days"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this worker holds the lease on, with what it needs to send it."""

    delivery_id: uuid.UUID
    attempt: int
    subscription_id: uuid.UUID
    url: str
    active: bool
    signing_secrets: tuple[str, ...]
    event_id: uuid.UUID
    event_type: str
    event_timestamp: datetime
    event_data: dict[str, Any]
    # Why the stored event cannot be sent (then the timestamp and data are placeholders).
    broken: str | None = None


class StoredEventBroken(Exception):
    """A claimed delivery whose stored event cannot be turned into a message."""


@dataclass(frozen=True, slots=True)
class Outcome:
    claimed: Claimed
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None
    status: str  # succeeded | pending (retry in `delay` seconds) | failed
    delay: float | None = None
    gone: bool = False

    @property
    def label(self) -> str:
        return "retry_scheduled" if self.status == "pending" else self.status


# httpx logs every request with its URL at INFO: URLs may carry tokens, and each attempt
# already gets its own line. Only the worker's own requests are left out (by context), without
# changing the httpx logger's level for anything else in the process.
_delivering: ContextVar[bool] = ContextVar("scorecard_webhook_delivering", default=False)


class _SkipDeliveryRequests(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not _delivering.get()


@contextmanager
def _quiet_deliveries() -> Iterator[None]:
    """For the block and the tasks it starts (they copy the context)."""
    httpx_log, skip = logging.getLogger("httpx"), _SkipDeliveryRequests()
    token = _delivering.set(True)
    httpx_log.addFilter(skip)
    try:
        yield
    finally:
        httpx_log.removeFilter(skip)
        _delivering.reset(token)


def listen_dsn(engine: AsyncEngine, direct_url: str | None = None) -> str:
    """Where to LISTEN, as a plain libpq-style DSN for asyncpg.connect: the engine's database,
    or `direct_url` (SCORECARD_DIRECT_DATABASE_URL) when the engine's goes through a
    transaction-mode pooler, which keeps no session (nor its LISTEN) between transactions."""
    url = make_url(direct_url) if direct_url else engine.url
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Worker:
    """Delivers webhooks until `stop()`; also runs `periodic` jobs (name, interval s, job)."""

    _http: HttpClients

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        *,
        periodic: Sequence[Periodic] = (),
        batch_size: int = CLAIM_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._engine = engine
        self._listen_url = settings.scorecard_direct_database_url
        self._timeout = settings.scorecard_webhook_timeout
        self._schedule = settings.scorecard_webhook_retry_schedule
        self._guarded = not settings.scorecard_webhook_allow_private
        self._periodic = list(periodic)
        self._batch_size = batch_size
        self._max_in_flight = max_in_flight
        self._poll_interval = poll_interval
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._waiting_for_room = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[Outcome | None] = asyncio.Queue()

    def stop(self) -> None:
        """Stop claiming; `run()` returns once in-flight attempts are finished and recorded."""
        self._stopping.set()
        self._wake.set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Worker]:
        """Run in the background for the duration of the block, then stop gracefully."""
        task = asyncio.create_task(self.run(), name="webhook-worker")
        try:
            yield self
        finally:
            self.stop()
            await task

    async def run(self) -> None:
        log.info(
            "webhook worker started",
            timeout_s=self._timeout,
            retry_schedule=self._schedule,
            ssrf_guard=self._guarded,
        )
        with _quiet_deliveries():
            await self._run_all()
        log.info("webhook worker stopped")

    async def _run_all(self) -> None:
        async with HttpClients(self._max_in_flight, self._timeout) as self._http:
            recorder = asyncio.create_task(self._record_outcomes(), name="webhook-recorder")
            listener = asyncio.create_task(self._listen(), name="webhook-listener")
            jobs = [
                asyncio.create_task(self._every(name, interval, job))
                for name, interval, job in self._periodic
            ]
            try:
                await self._dispatch()
            finally:
                # Attempts are bounded by the timeout: let them finish and record them.
                if self._in_flight:
                    await asyncio.wait(self._in_flight)
                self._results.put_nowait(None)
                await recorder
                listener.cancel()
                await asyncio.gather(listener, *jobs, return_exceptions=True)

    # Claiming --------------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        while not self._stopping.is_set():
            # Cleared before claiming: a NOTIFY arriving during the claim triggers another.
            self._wake.clear()
            room = self._max_in_flight - len(self._in_flight)
            if room <= 0:
                self._waiting_for_room = True
                await self._wake.wait()
                self._waiting_for_room = False
                continue
            wanted = min(self._batch_size, room)
            try:
                claimed, seconds_to_next = await self._claim(wanted)
            except (OSError, SQLAlchemyError) as exc:
                BACKGROUND_FAILURES.labels("claim").inc()
                log.warning("claiming deliveries failed; retrying", error=_describe(exc))
                await self._sleep(self._poll_interval)
                continue
            except Exception:
                BACKGROUND_FAILURES.labels("claim").inc()
                log.exception("claiming deliveries failed; retrying")
                await self._sleep(self._poll_interval)
                continue
            for delivery in claimed:
                self._start(delivery)
            if len(claimed) < wanted:
                await self._idle(seconds_to_next)

    async def _claim(self, limit: int) -> tuple[list[Claimed], float | None]:
        """Lease up to `limit` due deliveries (committed before any HTTP is sent) and, when
        fewer were due, the seconds until the next one is."""
        async with self._engine.begin() as connection:
            rows = (
                await connection.execute(
                    _CLAIM, {"limit": limit, "lease": self._timeout + LEASE_MARGIN}
                )
            ).all()
            seconds_to_next = None
            if len(rows) < limit:
                seconds_to_next = await connection.scalar(_SECONDS_TO_NEXT_DUE)
        return [_claimed(row) for row in rows], (
            None if seconds_to_next is None else float(seconds_to_next)
        )

    async def _idle(self, seconds_to_next: float | None) -> None:
        timeout = self._poll_interval
        if seconds_to_next is not None:
            # Not zero: a due row locked by another worker's claim must not make us spin.
            timeout = min(timeout, max(seconds_to_next, 0.01))
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _sleep(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _start(self, delivery: Claimed) -> None:
        task = asyncio.create_task(self._deliver(delivery))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._waiting_for_room:
            self._wake.set()

    # Sending ---------------------------------------------------------------------------------

    async def _deliver(self, delivery: Claimed) -> None:
        try:
            outcome = await self._attempt(delivery)
        except Exception as exc:  # past the attempt's own handling: still settle the delivery
            outcome = self._crashed(delivery, datetime.now(UTC), 0.0, exc)
        DELIVERIES.labels(outcome.label).inc()
        log.info(
            "webhook attempt",
            delivery_id=str(delivery.delivery_id),
            subscription_id=str(delivery.subscription_id),
            event_id=str(delivery.event_id),
            attempt=delivery.attempt,
            status_code=outcome.status_code,
            duration_ms=round(outcome.duration_ms, 1),
            outcome=outcome.label,
            error=outcome.error,
        )
        self._results.put_nowait(outcome)

    async def _attempt(self, delivery: Claimed) -> Outcome:
        started_at, started = datetime.now(UTC), perf_counter()
        if not delivery.active:
            return Outcome(
                delivery, started_at, 0.0, None, "not sent: the subscription is disabled", "failed"
            )
        status_code = retry_after = error = None
        try:
            async with asyncio.timeout(self._timeout):
                status_code, retry_after, error = await self._post(delivery)
        except TimeoutError:
            error = f"no response within {self._timeout:g} s"
        except DestinationRefused as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = _describe(exc)
        except Exception as exc:
            # A stored row that cannot be sent, or a bug: this delivery is retried on its
            # schedule (then fails) like any failed attempt, instead of being stranded until
            # its lease expires and claimed again, forever.
            return self._crashed(delivery, started_at, (perf_counter() - started) * 1000, exc)
        duration_ms = (perf_counter() - started) * 1000
        return self._judge(delivery, started_at, duration_ms, status_code, retry_after, error)

    def _crashed(
        self, delivery: Claimed, started_at: datetime, duration_ms: float, exc: Exception
    ) -> Outcome:
        BACKGROUND_FAILURES.labels("delivery").inc()
        if isinstance(exc, StoredEventBroken):  # no traceback: it is the data, not the code
            log.warning(
                "webhook attempt impossible",
                delivery_id=str(delivery.delivery_id),
                event_id=str(delivery.event_id),
                **failure_fields(exc),
            )
        else:
            log.exception(
                "webhook attempt crashed",
                delivery_id=str(delivery.delivery_id),
                event_id=str(delivery.event_id),
            )
        error = f"internal error: {_describe(exc)}"
        return self._judge(delivery, started_at, duration_ms, None, None, error)

    async def _post(self, delivery: Claimed) -> tuple[int, str | None, str | None]:
        """One signed POST: (status code, Retry-After header, error text for non-2xx)."""
        if delivery.broken is not None:
            raise StoredEventBroken(delivery.broken)
        body = dumps(
            event_payload(
                delivery.event_id,
                delivery.event_type,
                delivery.event_timestamp,
                delivery.event_data,
            )
        ).decode()
        headers = signed_headers(
            delivery.signing_secrets, str(delivery.event_id), datetime.now(UTC), body
        )
        headers["user-agent"] = "scorecard-webhooks/1.0"
        async with self._http.least_busy() as http:
            request = await build_request(http, delivery.url, headers, body, guarded=self._guarded)
            response = await http.send(request, stream=True)
            try:
                received = b""
                async for chunk in response.aiter_raw():
                    # Keep the start for the error message; read the rest so the connection
                    # can be reused, but stop at a limit.
                    received += chunk[: max(0, 300 - len(received))]
                    if response.num_bytes_downloaded > MAX_RESPONSE_BYTES:
                        break
            finally:
                await response.aclose()
        error = None
        if not response.is_success:
            snippet = received.decode("utf-8", "replace").strip()
            error = f"HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
        return response.status_code, response.headers.get("retry-after"), error

    def _judge(
        self,
        delivery: Claimed,
        started_at: datetime,
        duration_ms: float,
        status_code: int | None,
        retry_after: str | None,
        error: str | None,
    ) -> Outcome:
        if error is not None:
            # PostgreSQL text cannot hold NUL: one such response body would make the whole
            # batch of outcomes unrecordable.
            error = error.replace("\x00", "\ufffd")
        judged = partial(Outcome, delivery, started_at, duration_ms, status_code, error)
        if status_code is not None and 200 <= status_code < 300:
            return judged("succeeded")
        if status_code == 410:
            return judged("failed", gone=True)
        wait = parse_retry_after(retry_after) if status_code in (429, 503) else None
        delay = next_delay(self._schedule, delivery.attempt, wait)
        return judged("failed") if delay is None else judged("pending", delay)

    # Recording -------------------------------------------------------------------------------

    async def _record_outcomes(self) -> None:
        """Write outcomes in batches (one transaction each) until the None sentinel."""
        done = False
        while not done:
            batch = [await self._results.get()]
            while not self._results.empty() and len(batch) < RESULT_BATCH:
                batch.append(self._results.get_nowait())
            outcomes = [o for o in batch if o is not None]
            done = len(outcomes) < len(batch)
            if outcomes:
                await self._write_with_retries(outcomes)

    async def _write_with_retries(self, outcomes: list[Outcome]) -> None:
        for attempt in range(1, 4):
            try:
                await self._write(outcomes)
                return
            except Exception as exc:  # deadlock, connection loss, ...
                log.warning(
                    "recording delivery outcomes failed", attempt=attempt, error=_describe(exc)
                )
                await asyncio.sleep(0.5 * attempt)
        if len(outcomes) > 1:
            # Perhaps one outcome the database refuses: the others must still be recorded.
            for outcome in outcomes:
                try:
                    await self._write([outcome])
                except Exception as exc:
                    self._dropped([outcome], exc)
            return
        self._dropped(outcomes, None)

    @staticmethod
    def _dropped(outcomes: list[Outcome], exc: Exception | None) -> None:
        BACKGROUND_FAILURES.labels("recording").inc(len(outcomes))
        # Not lost: the leases expire and the deliveries are attempted again.
        log.error(
            "dropped delivery outcomes; they will be retried after their lease expires",
            deliveries=len(outcomes),
            delivery_ids=[str(o.claimed.delivery_id) for o in outcomes[:20]],
            **(failure_fields(exc) if exc is not None else {}),
        )

    async def _write(self, outcomes: list[Outcome]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(_RECORD_ATTEMPTS, _attempt_rows(outcomes))
            await connection.execute(_FINISH_DELIVERIES, _delivery_rows(outcomes))
            await self._update_subscriptions(connection, outcomes)

    @staticmethod
    async def _update_subscriptions(connection: Any, outcomes: list[Outcome]) -> None:
        gone = _subscriptions(o for o in outcomes if o.gone)
        failed = _subscriptions(o for o in outcomes if o.status != "succeeded")
        succeeded = _subscriptions(o for o in outcomes if o.status == "succeeded")
        if gone:
            await connection.execute(_DISABLE_GONE, {"ids": gone, "reason": GONE_REASON})
        if failed:
            await connection.execute(_START_FAILING, {"ids": failed})
        if succeeded:
            await connection.execute(_STOP_FAILING, {"ids": succeeded})
        if failed:
            await connection.execute(_DISABLE_FAILING, {"ids": failed, "reason": FAILING_REASON})

    # Waking and periodic jobs ----------------------------------------------------------------

    async def _listen(self) -> None:
        """LISTEN on a dedicated connection, reconnecting if it drops; polling covers gaps."""
        while True:
            try:
                connection = await asyncpg.connect(
                    listen_dsn(self._engine, self._listen_url),
                    server_settings={"application_name": "scorecard-worker-listen"},
                )
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("LISTEN connection failed; polling meanwhile", error=_describe(exc))
                await asyncio.sleep(5)
                continue
            try:
                await self._listen_until_lost(connection)
            finally:
                connection.terminate()
            log.warning("LISTEN connection lost; reconnecting")

    async def _listen_until_lost(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(CHANNEL, lambda *_: self._wake.set())
        self._wake.set()  # anything committed while we were not listening
        await lost.wait()

    async def _every(self, name: str, interval: float, job: Job) -> None:
        while not self._stopping.is_set():
            try:
                await job()
            except Exception:
                # The next run is on schedule regardless: a failing job never stops the others.
                BACKGROUND_FAILURES.labels(name).inc()
                log.exception("periodic job failed", job=name)
            await self._sleep(interval)


class HttpClients:
    """Several small httpx clients instead of one big one. httpx's pool does bookkeeping
    proportional to its connections on every request: measured here, one client sends ~400
    requests/s at 4 concurrent but ~100/s at 50. Each request takes the least busy client, so
    none exceeds REQUESTS_PER_CLIENT and none queues for a connection."""

    def __init__(self, max_in_flight: int, timeout: float) -> None:
        count = -(-max_in_flight // REQUESTS_PER_CLIENT)
        limits = httpx.Limits(
            max_connections=REQUESTS_PER_CLIENT, max_keepalive_connections=REQUESTS_PER_CLIENT
        )
        tls = httpx.create_ssl_context()  # loading the CA bundle takes ~60 ms: do it once
        self._clients = [
            httpx.AsyncClient(timeout=timeout, follow_redirects=False, limits=limits, verify=tls)
            for _ in range(count)
        ]
        self._busy = [0] * count

    @asynccontextmanager
    async def least_busy(self) -> AsyncIterator[httpx.AsyncClient]:
        index = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            yield self._clients[index]
        finally:
            self._busy[index] -= 1

    async def __aenter__(self) -> HttpClients:
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients))


async def build_request(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], body: str, *, guarded: bool
) -> httpx.Request:
    """The POST. When `guarded`, it goes to an address the SSRF guard has just checked (with
    the original Host header and TLS server name), so DNS cannot change the answer between
    the check and the connection (rebinding)."""
    target = httpx.URL(url)
    extensions: dict[str, Any] = {}
    port = target.port or (443 if target.scheme == "https" else 80)
    # Whatever the guard: a row stored before ports were validated must fail cleanly.
    check_port(port)
    if guarded:
        host = target.raw_host.decode("ascii")
        address = (await public_addresses(host, port))[0]
        headers["host"] = target.netloc.decode("ascii")
        if target.scheme == "https":
            extensions["sni_hostname"] = host  # the certificate is checked against it
        target = target.copy_with(host=str(address))
    return http.build_request("POST", target, headers=headers, content=body, extensions=extensions)


_PLACEHOLDER_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def _claimed(row: Any) -> Claimed:
    """The claimed row; one whose event cannot be decoded is still returned (`broken`), so
    that its attempt fails and is recorded by the retry rules like any other."""
    secrets = (row.secret,) if row.previous_secret is None else (row.secret, row.previous_secret)
    broken = None
    timestamp, data = row.event_timestamp, {}
    try:
        data = json.loads(row.event_data)
        if not isinstance(data, dict):
            raise TypeError(f"event data is a JSON {type(data).__name__}, not an object")
    except (ValueError, TypeError, RecursionError) as exc:
        broken = f"the stored event's data cannot be decoded ({type(exc).__name__})"
    if timestamp is None:
        broken = "the stored event's timestamp is out of range"
    return Claimed(
        delivery_id=row.id,
        attempt=row.attempts,
        subscription_id=row.subscription_id,
        url=row.url,
        active=row.active,
        signing_secrets=secrets,
        event_id=row.event_id,
        event_type=row.event_type,
        event_timestamp=timestamp or _PLACEHOLDER_TIME,
        event_data=data if broken is None else {},
        broken=broken,
    )


def _attempt_rows(outcomes: list[Outcome]) -> dict[str, list[Any]]:
    return {
        "ids": [new_id() for _ in outcomes],
        "delivery_ids": [o.claimed.delivery_id for o in outcomes],
        "attempts": [o.claimed.attempt for o in outcomes],
        "started": [o.started_at for o in outcomes],
        "durations": [o.duration_ms for o in outcomes],
        "codes": [o.status_code for o in outcomes],
        "errors": [o.error for o in outcomes],
    }


def _delivery_rows(outcomes: list[Outcome]) -> dict[str, list[Any]]:
    return {
        "delivery_ids": [o.claimed.delivery_id for o in outcomes],
        "attempts": [o.claimed.attempt for o in outcomes],
        "statuses": [o.status for o in outcomes],
        "delays": [o.delay for o in outcomes],
        "started": [o.started_at for o in outcomes],
        "codes": [o.status_code for o in outcomes],
        "errors": [o.error for o in outcomes],
    }


def _subscriptions(outcomes: Any) -> list[uuid.UUID]:
    return sorted({o.claimed.subscription_id for o in outcomes})


def _describe(exc: BaseException) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


async def refresh_backlog_gauges(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        current = await backlog(connection)
    BACKLOG_PENDING.set(current["pending"])
    BACKLOG_OLDEST_DUE_AGE.set(current["oldest_due_age_s"])

"""Pure ASGI middleware (no BaseHTTPMiddleware: it buffers bodies and breaks streaming)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import problem_response, unexpected_error_response

MAX_BODY_BYTES = 10 * 1024 * 1024
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = structlog.get_logger("app.access")


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header `name` (lower case), without building a dict of them all."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


class _BodyTooLarge(HTTPException):
    # An HTTPException, so FastAPI's body parsing re-raises it instead of answering 400.
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body exceeds {max_bytes} bytes")


def _malloc_trim() -> Any:
    """glibc's malloc_trim, or None elsewhere (musl, macOS)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


class LargeBodyGate:
    """Requests with a large body (over `threshold` bytes declared, or chunked) are served one
    at a time per process, and after the last of a run the C heap is trimmed.

    Why: parsing a body builds Python objects worth about ten times its size (a 10 MiB xAPI
    array briefly takes ~130 MB), so five at once took the process past 700 MB. Running them
    one after the other costs no throughput — parsing and validating are CPU-bound on the
    process's one event loop, so five concurrent parses take as long as five in a row — and
    bounds the peak to one body's worth. Afterwards glibc keeps the freed memory in its heaps
    and arenas; malloc_trim hands it back to the system (measured: +200 MB left over without,
    see docs/operations.md). Small requests never wait here."""

    def __init__(self, threshold: int = 1024 * 1024) -> None:
        self.threshold = threshold
        self.gate: asyncio.Semaphore | None = None  # made on first use, in the serving loop
        self.waiting = 0
        self.trim = _malloc_trim()

    async def serve(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Run `app` for a large request (a chunked one, or `is_large`), after the large ones
        before it."""
        if self.gate is None:
            self.gate = asyncio.Semaphore(1)
        self.waiting += 1
        try:
            await self.gate.acquire()
        finally:
            self.waiting -= 1
        try:
            await app(scope, receive, send)
        finally:
            self.gate.release()
            if self.waiting == 0:
                # The last large body of a run: give the memory back, a moment later, when
                # the server has let go of the request (its body, its response) too.
                asyncio.get_running_loop().call_later(0.5, self._give_back)

    def _give_back(self) -> None:
        if self.waiting == 0 and not (self.gate and self.gate.locked()):
            gc.collect()  # cycles (exceptions with their frames) may still hold a body
            if self.trim is not None:
                self.trim(0)

    def is_large(self, content_length: int) -> bool:
        return content_length > self.threshold


Observer = Callable[[str, str | None, int, float], None]
"""Told of every request: (method, route template or None if unmatched, status, seconds)."""


class RequestMiddleware:
    """What the service does around every HTTP request, as one pure ASGI layer (each layer
    of its own cost a small read a few per cent of its throughput, measured with
    bench/crud.py). From the outside in:

    - Request id: X-Request-ID honoured if sane, else generated; always echoed, and bound to
      the request's log lines.
    - One access log line per request (method, route template, status, duration), and the
      same facts to `observe` (the HTTP metrics).
    - Body limit: 413 for a body over `max_bytes`, at once when Content-Length says so,
      otherwise as soon as the streamed body passes it (chunked uploads).
    - Large bodies one at a time (`LargeBodyGate`).
    - An exception that no handler claimed is answered (problem+json 500, or 503 when the
      database is unavailable) and not re-raised, so the server keeps the connection open for
      the client's next request. Once a response has started, nothing can be said any more:
      then the server must drop the connection, and does."""

    def __init__(
        self, app: ASGIApp, observe: Observer | None = None, max_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.app, self.observe, self.max_bytes = app, observe, max_bytes
        self.too_large = problem_response(  # built once: it is the same answer every time
            413, f"request body exceeds {max_bytes} bytes", slug="payload-too-large"
        )
        self.large_bodies = LargeBodyGate()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = (_header(scope, b"x-request-id") or b"").decode("latin-1")
        # 32 random hex digits: as unique as uuid4().hex, at a third of its cost.
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self._limited(scope, receive, send_with_id)
        except _BodyTooLarge:
            if not response_started:
                await self.too_large(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                raise
            await unexpected_error_response(exc, scope["path"])(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            template: str | None = getattr(scope.get("route"), "path", None)
            if self.observe is not None:
                self.observe(scope["method"], template, status, seconds)
            if access_log.isEnabledFor(logging.INFO):  # skip building the event when off
                access_log.info(
                    "request",
                    method=scope["method"],
                    route=template or "unmatched",
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, behind the body limit and the large-body gate."""
        declared = _header(scope, b"content-length")
        length = int(declared) if declared is not None and declared.isdigit() else None
        if length is not None and length > self.max_bytes:
            await self.too_large(scope, receive, send)
            return
        chunked = _header(scope, b"transfer-encoding") is not None
        if chunked:
            receive = self._limited_receive(receive)
        # HTTP/1.1 (uvicorn): without chunking, the body is at most Content-Length bytes (or
        # absent), so only a chunked one needs watching.
        if chunked or (length is not None and self.large_bodies.is_large(length)):
            await self.large_bodies.serve(self.app, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _limited_receive(self, receive: Receive) -> Receive:
        """`receive` that raises `_BodyTooLarge` once the streamed body passes the limit."""
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        return limited_receive

"""uvicorn's HTTP/1.1 protocols with two guards against slow or idle clients.

uvicorn bounds only the idle time *between* requests (keep-alive). A client that opens a
connection and sends nothing, or sends its request head a byte at a time, holds a connection for
ever; enough of them exhaust the server's file descriptors. So:

- Header deadline: from the moment a connection opens, and again after each response, the
  client has SCORECARD_HEADER_TIMEOUT seconds to complete a request head. Otherwise the
  connection is closed — after a 408 if part of a request had arrived.
- Connection cap: while more than SCORECARD_MAX_CONNECTIONS connections are open in this
  process (or as many requests are in flight), a request is answered at once with a 503
  problem+json and its connection closed. This replaces uvicorn's `limit_concurrency`, whose 503
  is plain text and counts the new connection against the limit. Connections over the cap
  that never complete a head are closed by the header deadline.

`scorecard serve` selects these classes with uvicorn's `http=` option.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.core.errors import problem_response
from app.core.settings import get_settings

_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/problem+json\r\n"
    b"connection: close\r\n"
    b"content-length: %d\r\n\r\n%s"
)
_REQUEST_TIMEOUT_BODY = (
    b'{"type":"https://scorecard.dev/problems/request-timeout","title":"Request Timeout",'
    b'"status":408,"detail":"the request head did not arrive in time"}'
)
REQUEST_TIMEOUT_RESPONSE = _REQUEST_TIMEOUT % (len(_REQUEST_TIMEOUT_BODY), _REQUEST_TIMEOUT_BODY)

OVERLOADED = problem_response(
    503,
    "the server has too many open connections; retry shortly",
    slug="overloaded",
    headers={"Retry-After": "1", "Connection": "close"},
)


class _ClientGuards:
    """Mixed into a uvicorn HTTP protocol (first in the bases): uses only what both of
    uvicorn's implementations have — `loop`, `transport`, `connections`, `tasks`, `cycle`,
    `app`, `connection_made`, `data_received`, `on_response_complete`, `connection_lost`."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    connections: set[Any]
    tasks: set[asyncio.Task[None]]
    cycle: Any
    app: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._header_timeout = settings.scorecard_header_timeout
        self._max_connections = settings.scorecard_max_connections
        self._app = self.app
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False

    # Header deadline

    def _await_head(self) -> None:
        self._cancel_head_timer()
        self._head_started = False
        self._head_timer = self.loop.call_later(self._header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # the head arrived: a request is being served (or its body uploaded)
        if self._head_started:
            self.transport.write(REQUEST_TIMEOUT_RESPONSE)
        self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._await_head()

    def on_response_complete(self) -> None:
        # Before uvicorn's: it may go straight on to a pipelined request already received.
        self._await_head()
        super().on_response_complete()  # type: ignore[misc]

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    # Connection cap, decided before the data is parsed: requests parsed now get this app.

    def data_received(self, data: bytes) -> None:
        self._head_started = True
        overloaded = (
            len(self.connections) > self._max_connections
            or len(self.tasks) >= self._max_connections
        )
        self.app = OVERLOADED if overloaded else self._app
        super().data_received(data)  # type: ignore[misc]


def protocol_class() -> str:
    """The `http=` for uvicorn: httptools when installed (uvicorn[standard]), else h11."""
    try:
        import httptools  # noqa: F401
    except ImportError:  # pragma: no cover
        return "app.core.protocol:GuardedH11Protocol"
    return "app.core.protocol:GuardedHttpToolsProtocol"


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(_ClientGuards, HttpToolsProtocol):
        pass

except ImportError:  # pragma: no cover - httptools not installed
    pass

from uvicorn.protocols.http.h11_impl import H11Protocol  # noqa: E402


class GuardedH11Protocol(_ClientGuards, H11Protocol):
    pass

"""Slow or idle clients cannot exhaust the real server: request heads have a deadline and the
number of connections a process serves has a cap (SCORECARD_HEADER_TIMEOUT,
SCORECARD_MAX_CONNECTIONS)."""

from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

import httpx

from tests.e2e.server import running_server


def connect(base_url: str) -> socket.socket:
    parts = urlsplit(base_url)
    return socket.create_connection((parts.hostname, parts.port), timeout=5)


def test_slow_and_idle_clients_are_cut_off_while_others_are_served(database_url):
    header_timeout = 2
    with running_server(database_url, env={"SCORECARD_HEADER_TIMEOUT": str(header_timeout)}) as (
        base_url,
        _,
    ):
        idle = [connect(base_url) for _ in range(10)]  # connect, then say nothing
        slow = [connect(base_url) for _ in range(40)]  # a request head, a byte at a time
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        answers: dict[socket.socket, bytes] = {sock: b"" for sock in idle + slow}
        still_open = set(answers)
        served_meanwhile = False
        deadline = time.monotonic() + header_timeout + 15  # generous: a loaded 2-core machine
        while still_open and time.monotonic() < deadline:
            readable, _, _ = select.select(list(still_open), [], [], 0.5)
            for sock in readable:
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                answers[sock] += data
                if not data:
                    still_open.discard(sock)
            for sock in still_open & set(slow):
                try:
                    sock.send(b"x")
                except OSError:
                    still_open.discard(sock)
            if not served_meanwhile:
                served_meanwhile = httpx.get(f"{base_url}/healthz", timeout=10).status_code == 200
        for sock in answers:
            sock.close()
        assert not still_open, f"{len(still_open)} of 50 slow or idle connections still open"
        assert served_meanwhile
        # Whoever had started a request hears why; a connection that said nothing is just closed.
        # (A 408 can be lost to a reset when our next byte crosses the close, hence "any".)
        heard = [answers[sock] for sock in slow if answers[sock]]
        assert heard and all(answer.startswith(b"HTTP/1.1 408 ") for answer in heard)
        assert all(answers[sock] == b"" for sock in idle)
        # And the server is as good as new.
        assert httpx.get(f"{base_url}/healthz", timeout=10).status_code == 200


def test_connections_beyond_the_cap_get_a_503_problem(database_url):
    env = {"SCORECARD_MAX_CONNECTIONS": "3", "SCORECARD_HEADER_TIMEOUT": "60"}
    with running_server(database_url, env=env) as (base_url, _):
        held = [connect(base_url) for _ in range(3)]
        deadline = time.monotonic() + 20
        while True:  # until the server has accepted the three held connections
            response = httpx.get(f"{base_url}/healthz", timeout=10)
            if response.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 503
        assert response.headers["retry-after"] == "1"
        for sock in held:
            sock.close()
        deadline = time.monotonic() + 20
        while (status := httpx.get(f"{base_url}/healthz", timeout=10).status_code) != 200:
            assert time.monotonic() < deadline, f"still {status} after the connections closed"
            time.sleep(0.1)

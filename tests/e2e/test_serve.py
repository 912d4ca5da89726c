"""The real `scorecard` process: CLI, serving over TCP, graceful shutdown, bad configuration."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.e2e.server import running_server, scorecard_cli


def test_walkthrough_against_the_real_server(clean_db):
    database_url = clean_db
    with running_server(database_url) as (base_url, process):
        created = scorecard_cli(
            "api-keys",
            "create",
            "--name",
            "ops",
            "--scope",
            "admin",
            env={"DATABASE_URL": database_url},
        )
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert created.stdout == key + "\n"  # the key and nothing else on stdout
        headers = {"Authorization": f"Bearer {key}", "X-Request-ID": "walkthrough-1"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
            assert http.get("/readyz").json()["status"] == "pass"
            scorecard = http.post("/v1/scorecards", json={"name": "Academy"})
            assert scorecard.status_code == 201
            assert scorecard.headers["x-request-id"] == "walkthrough-1"
            measure = http.post(
                f"/v1/scorecards/{scorecard.json()['id']}/measures",
                json={
                    "key": "completion",
                    "name": "Completion rate",
                    "perspective": "customer",
                    "direction": "increase",
                    "baseline": 50,
                    "target": 90,
                    "unit": "%",
                },
            )
            assert measure.status_code == 201
            readings_url = f"/v1/measures/{measure.json()['id']}/readings"
            reading = http.post(
                readings_url, json={"value": 80, "observed_at": "2026-11-01T10:00:00Z"}
            )
            assert reading.status_code == 201
            assert [r["value"] for r in http.get(readings_url).json()["items"]] == [80]
            assert http.get("/v1/scorecards").json()["items"][0]["name"] == "Academy"
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal as its exit status.
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
        log = Path(process.log_path).read_text()
    assert "Finished server process" in log
    # One JSON access-log line per request, with route template and request id; no secrets.
    assert '"route": "/v1/measures/{measure_id}/readings"' in log
    assert '"request_id": "walkthrough-1"' in log
    assert key not in log


def test_bad_configuration_fails_with_one_line():
    for env in (
        {"DATABASE_URL": "mysql://root@localhost/x"},
        {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"},
        {"LOG_FORMAT": "xml", "DATABASE_URL": "postgresql://x@127.0.0.1:1/x"},
    ):
        result = scorecard_cli("migrate", env=env)
        assert result.returncode == 2, (env, result)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("scorecard: error:")
        assert "Traceback" not in result.stderr

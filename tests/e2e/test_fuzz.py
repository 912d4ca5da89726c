"""Schemathesis fuzzes every operation of the OpenAPI document against the real server:
whatever a client sends, the answer is never a 5xx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.server import running_server, scorecard_cli


def test_no_input_makes_a_server_error(clean_db):
    with running_server(clean_db, "--no-worker") as (base_url, process):
        key = scorecard_cli(
            "api-keys",
            "create",
            "--name",
            "fuzz",
            "--scope",
            "admin",
            env={"DATABASE_URL": clean_db},
        ).stdout.strip()
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{base_url}/openapi.json",
                "--header",
                f"Authorization: Bearer {key}",
                "--header",
                "X-Experience-API-Version: 1.0.3",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "5",
                "--seed",
                "20261128",
                "--workers",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        errors = [
            line
            for line in Path(process.log_path).read_text().splitlines()  # type: ignore[attr-defined]
            if '"level": "error"' in line
        ]
    assert result.returncode == 0, result.stdout[-3000:] + "\n".join(errors)
    assert "passed" in result.stdout

"""The OpenAPI document is the contract: schemathesis runs every one of its checks (status
codes, content types and response schemas as documented, schema-valid requests accepted,
schema-violating ones rejected, auth not ignored, no server error, ...) over every operation
of the real server, stateful sequences included, and finds nothing. What the document cannot
say is configured in schemathesis.toml beside this file, each exception with its reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.server import cli_key, running_server

HERE = Path(__file__).parent


def test_the_service_does_exactly_what_its_openapi_document_says(clean_db):
    env = {"SCORECARD_WEBHOOK_ALLOW_PRIVATE": "true"}  # see body.url in schemathesis.toml
    with running_server(clean_db, "--no-worker", env=env) as (base_url, process):
        key = cli_key(clean_db, name="contract")
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "--config-file",
                str(HERE / "schemathesis.toml"),
                "run",
                f"{base_url}/openapi.json",
                "--header",
                f"Authorization: Bearer {key}",
                "--header",
                "X-Experience-API-Version: 1.0.3",
                "--checks",
                "all",
                "--seed",
                "20261201",
                # One worker: with two, one's stateful run may delete (cascade) the scorecard
                # another's just-created webhook filters on, and the check sees it vanish.
                "--workers",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        errors = [
            line
            for line in Path(process.log_path).read_text().splitlines()  # type: ignore[attr-defined]
            if '"level": "error"' in line
        ]
    assert result.returncode == 0, result.stdout[-6000:] + "\n".join(errors)
    summary = result.stdout[result.stdout.index("SUMMARY") :]
    assert "Selected: 63/63" in summary and "Tested: 63" in summary
    assert "❌" not in summary and "🚫" not in summary

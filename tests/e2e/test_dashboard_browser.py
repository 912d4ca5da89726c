"""The dashboard as a person sees it: a real `scorecard serve` process, the page opened by
headless Chromium (no JavaScript needed, nothing fetched from elsewhere), its visible text
read back."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime

import httpx
import pytest

from tests.e2e.server import cli_key, running_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (.ci/run installs it where it can)"
)


def _visible_text(url: str) -> str:
    """The page's text as rendered (`--dump-dom` prints the DOM after layout; with scripts
    off, what it holds is what the server sent and the browser accepted)."""
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-javascript",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_a_browser_shows_the_shared_scorecard(clean_db):
    with running_server(clean_db, "--no-worker") as (base_url, _):
        headers = {"Authorization": f"Bearer {cli_key(clean_db)}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
            scorecard = http.post("/v1/scorecards", json={"name": "Academy 2026"}).json()
            measure = http.post(
                f"/v1/scorecards/{scorecard['id']}/measures",
                json={
                    "key": "completion",
                    "name": "Completion rate",
                    "unit": "%",
                    "perspective": "learning_growth",
                    "direction": "increase",
                    "baseline": 50,
                    "target": 90,
                },
            ).json()
            reading = http.post(
                f"/v1/measures/{measure['id']}/readings",
                json={"value": 82, "observed_at": datetime.now(UTC).isoformat()},
            )
            assert reading.status_code == 201, reading.text
            link = http.post(f"/v1/scorecards/{scorecard['id']}/share-links").json()

        dom = _visible_text(base_url + link["url"])
        assert "Academy 2026" in dom
        assert "Completion rate" in dom
        assert "80 amber" in dom  # 82 % of the way from 50 to 90 is 80 %
        assert "Learning &amp; growth" in dom

        badge = _visible_text(base_url + link["url"] + "/badge.svg")
        assert "Academy 2026" in badge and "80 amber" in badge
        assert "Not found" in _visible_text(base_url + "/s/" + "x" * 43)

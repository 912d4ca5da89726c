"""Builders for API tests: one call per resource, failing loudly if the API refuses."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


async def create_scorecard(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/scorecards", json={"name": "T&D 2026", **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def create_measure(
    client: httpx.AsyncClient, scorecard_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "key": f"m{uuid.uuid4().hex[:8]}",
        "name": "Completion rate",
        "perspective": "learning_growth",
        "direction": "increase",
        "baseline": 0,
        "target": 100,
        **fields,
    }
    response = await client.post(f"/v1/scorecards/{scorecard_id}/measures", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]

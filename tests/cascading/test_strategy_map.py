"""The strategy map over HTTP: objectives' `drives` (arrows within a scorecard, no
self-reference, no cycle, gone with either objective), and the map of a scorecard as JSON and
as an SVG picture, with the scores the score tree gives at `as_of`."""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from app.auth.keys import Scope
from tests.factories import create_measure, create_scorecard

PROBLEM = "application/problem+json"
SVG_NS = "{http://www.w3.org/2000/svg}"
AS_OF = "2026-03-20T12:00:00Z"


async def create_objective(client, scorecard_id: str, **fields: Any) -> dict[str, Any]:
    body = {"perspective": "learning_growth", "name": "Build capability", **fields}
    response = await client.post(f"/v1/scorecards/{scorecard_id}/objectives", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def reading(client, measure_id: str, value: float, at: str = "2026-03-10T09:00:00Z"):
    response = await client.post(
        f"/v1/measures/{measure_id}/readings", json={"value": value, "observed_at": at}
    )
    assert response.status_code == 201, response.text


def sorted_ids(*objectives: dict[str, Any]) -> list[str]:
    return sorted(o["id"] for o in objectives)


@pytest.fixture
async def academy(client) -> dict[str, Any]:
    """Skills (learning & growth) drive delivery (internal process), which drives learner
    satisfaction (customer), which drives cost per learner (financial)."""
    scorecard = await create_scorecard(client, name="Academy")
    sid = scorecard["id"]
    cost = await create_objective(client, sid, perspective="financial", name="Lower cost")
    satisfaction = await create_objective(
        client, sid, perspective="customer", name="Happy learners", drives=[cost["id"]]
    )
    delivery = await create_objective(
        client,
        sid,
        perspective="internal_process",
        name="Deliver on time",
        drives=[satisfaction["id"]],
    )
    skills = await create_objective(
        client, sid, name="Skilled trainers", drives=[delivery["id"], satisfaction["id"]]
    )
    return {
        "scorecard": scorecard,
        "cost": cost,
        "satisfaction": satisfaction,
        "delivery": delivery,
        "skills": skills,
    }


async def test_drives_are_stored_sorted_and_read_back(client, academy):
    skills = academy["skills"]
    assert skills["drives"] == sorted_ids(academy["delivery"], academy["satisfaction"])
    assert academy["cost"]["drives"] == []
    got = await client.get(f"/v1/objectives/{skills['id']}")
    assert got.json()["drives"] == skills["drives"]
    listed = await client.get(f"/v1/scorecards/{academy['scorecard']['id']}/objectives")
    by_id = {o["id"]: o for o in listed.json()["items"]}
    assert by_id[academy["delivery"]["id"]]["drives"] == [academy["satisfaction"]["id"]]


async def test_patch_replaces_drives_and_bumps_the_version(client, academy):
    skills = academy["skills"]
    patched = await client.patch(
        f"/v1/objectives/{skills['id']}", json={"drives": [academy["cost"]["id"]]}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["drives"] == [academy["cost"]["id"]]
    assert patched.json()["version"] == skills["version"] + 1
    cleared = await client.patch(f"/v1/objectives/{skills['id']}", json={"drives": []})
    assert cleared.json()["drives"] == []
    # Other fields leave the arrows alone.
    delivery = academy["delivery"]
    renamed = await client.patch(f"/v1/objectives/{delivery['id']}", json={"name": "On time"})
    assert renamed.json()["drives"] == [academy["satisfaction"]["id"]]


async def test_a_cycle_is_refused_naming_it(client, academy):
    cost = academy["cost"]
    response = await client.patch(
        f"/v1/objectives/{cost['id']}", json={"drives": [academy["skills"]["id"]]}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "drives"]
    # Lower cost → Skilled trainers → (Deliver on time →) Happy learners → Lower cost
    message = error["message"]
    assert "cycle" in message
    assert message.startswith("drives would close a cycle: 'Lower cost'")
    assert "'Skilled trainers'" in message and message.endswith(f"'Lower cost' ({cost['id']})")
    unchanged = await client.get(f"/v1/objectives/{cost['id']}")
    assert unchanged.json()["drives"] == [] and unchanged.json()["version"] == cost["version"]


async def test_a_two_objective_cycle_and_self_reference_are_refused(client, academy):
    delivery, satisfaction = academy["delivery"], academy["satisfaction"]
    back = await client.patch(
        f"/v1/objectives/{satisfaction['id']}", json={"drives": [delivery["id"]]}
    )
    assert back.status_code == 422
    assert "'Happy learners'" in back.json()["errors"][0]["message"]
    itself = await client.patch(
        f"/v1/objectives/{delivery['id']}", json={"drives": [delivery["id"]]}
    )
    assert itself.status_code == 422
    assert itself.json()["errors"][0]["message"] == "an objective cannot drive itself"


async def test_drives_only_within_the_scorecard(client, academy):
    other = await create_scorecard(client, name="Other")
    foreign = await create_objective(client, other["id"])
    response = await client.post(
        f"/v1/scorecards/{academy['scorecard']['id']}/objectives",
        json={"perspective": "customer", "name": "X", "drives": [foreign["id"]]},
    )
    assert response.status_code == 422
    assert foreign["id"] in response.json()["errors"][0]["message"]
    missing = str(uuid.uuid4())
    patched = await client.patch(
        f"/v1/objectives/{academy['cost']['id']}", json={"drives": [missing]}
    )
    assert patched.status_code == 422
    assert missing in patched.json()["errors"][0]["message"]


async def test_deleting_an_objective_takes_it_out_of_others_drives(client, academy):
    skills = academy["skills"]
    deleted = await client.delete(f"/v1/objectives/{academy['delivery']['id']}")
    assert deleted.status_code == 204
    after = (await client.get(f"/v1/objectives/{skills['id']}")).json()
    assert after["drives"] == [academy["satisfaction"]["id"]]
    assert after["version"] == skills["version"] + 1  # its drives changed
    untouched = (await client.get(f"/v1/objectives/{academy['cost']['id']}")).json()
    assert untouched["version"] == academy["cost"]["version"]


async def test_drives_in_the_audit_log(client, academy):
    skills = academy["skills"]
    await client.patch(f"/v1/objectives/{skills['id']}", json={"drives": []})
    entries = await client.get(f"/v1/audit?resource_id={skills['id']}")
    assert entries.status_code == 200, entries.text
    updated = [e for e in entries.json()["items"] if e["action"] == "objective.updated"]
    assert updated[0]["changes"]["drives"] == [skills["drives"], []]


@pytest.mark.parametrize(
    "drives",
    [
        "not-a-list",
        ["not-a-uuid"],
        [1],
        [None],
        None,
        ["00000000-0000-0000-0000-00000000000\x00"],
        [str(uuid.UUID(int=1))] * 2,
        [str(uuid.uuid4()) for _ in range(101)],
        {"id": str(uuid.uuid4())},
    ],
)
async def test_hostile_drives_are_refused(client, academy, drives):
    sid = academy["scorecard"]["id"]
    created = await client.post(
        f"/v1/scorecards/{sid}/objectives",
        json={"perspective": "customer", "name": "X", "drives": drives},
    )
    assert created.status_code == 422, created.text
    assert created.headers["content-type"] == PROBLEM
    assert created.json()["errors"][0]["loc"][:2] == ["body", "drives"]
    patched = await client.patch(f"/v1/objectives/{academy['cost']['id']}", json={"drives": drives})
    assert patched.status_code == 422, patched.text


async def test_map_as_json_with_scores_at_as_of(client, academy):
    sid = academy["scorecard"]["id"]
    # Deliver on time: 80 of 0→100 = 80 (amber); Skilled trainers: 95 → green; 40 → red.
    on_time = await create_measure(
        client, sid, objective_id=academy["delivery"]["id"], perspective="internal_process"
    )
    trained = await create_measure(client, sid, objective_id=academy["skills"]["id"])
    cost = await create_measure(
        client, sid, objective_id=academy["cost"]["id"], perspective="financial"
    )
    await reading(client, on_time["id"], 80)
    await reading(client, trained["id"], 95)
    await reading(client, cost["id"], 40)
    await reading(client, cost["id"], 99, at="2026-03-25T09:00:00Z")  # after as_of
    response = await client.get(f"/v1/scorecards/{sid}/map", params={"as_of": AS_OF})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["nodes"] == [
        {
            "objective_id": academy["cost"]["id"],
            "name": "Lower cost",
            "perspective": "financial",
            "score": 40.0,
            "status": "red",
        },
        {
            "objective_id": academy["satisfaction"]["id"],
            "name": "Happy learners",
            "perspective": "customer",
            "score": None,
            "status": "no_data",
        },
        {
            "objective_id": academy["delivery"]["id"],
            "name": "Deliver on time",
            "perspective": "internal_process",
            "score": 80.0,
            "status": "amber",
        },
        {
            "objective_id": academy["skills"]["id"],
            "name": "Skilled trainers",
            "perspective": "learning_growth",
            "score": 95.0,
            "status": "green",
        },
    ]
    expected = sorted(
        [
            (academy["satisfaction"]["id"], academy["cost"]["id"]),
            (academy["delivery"]["id"], academy["satisfaction"]["id"]),
            (academy["skills"]["id"], academy["delivery"]["id"]),
            (academy["skills"]["id"], academy["satisfaction"]["id"]),
        ]
    )
    assert body["edges"] == [{"from": f, "to": t} for f, t in expected]
    later = await client.get(f"/v1/scorecards/{sid}/map", params={"as_of": "2026-03-26T00:00:00Z"})
    assert later.json()["nodes"][0]["score"] == 99.0


async def test_map_as_svg(client, academy):
    sid = academy["scorecard"]["id"]
    trained = await create_measure(client, sid, objective_id=academy["skills"]["id"])
    await reading(client, trained["id"], 95)
    response = await client.get(
        f"/v1/scorecards/{sid}/map", params={"as_of": AS_OF}, headers={"Accept": "image/svg+xml"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.text)
    assert root.tag == f"{SVG_NS}svg"
    boxes = root.findall(f".//{SVG_NS}g")
    assert len(boxes) == 4
    texts = ["".join(g.itertext()) for g in boxes]
    assert any("Skilled trainers" in t and "95.0 · green" in t for t in texts)
    assert any("Lower cost" in t and "– · no data" in t for t in texts)
    assert {g.get("class") for g in boxes} == {"objective green", "objective no_data"}
    edges = root.findall(f".//{SVG_NS}path[@class='edge']")
    assert len(edges) == 4
    assert all(line.get("marker-end") == "url(#arrow)" for line in edges)
    assert root.find(f".//{SVG_NS}marker").get("id") == "arrow"
    # Bands top to bottom: financial first, learning & growth last.
    bands = [t.text for t in root.findall(f"./{SVG_NS}text") if t.get("font-weight") == "bold"][1:]
    assert bands == ["Financial", "Customer", "Internal process", "Learning & growth"]
    # JSON stays the default, and wins a tie.
    tie = await client.get(
        f"/v1/scorecards/{sid}/map", headers={"Accept": "application/json, image/svg+xml"}
    )
    assert tie.headers["content-type"] == "application/json"
    preferred = await client.get(
        f"/v1/scorecards/{sid}/map",
        headers={"Accept": "application/json;q=0.5, image/svg+xml"},
    )
    assert preferred.headers["content-type"].startswith("image/svg+xml")


async def test_svg_escapes_names(client):
    hostile = '<script>alert("x")</script> & "quotes" \'too\''
    scorecard = await create_scorecard(client, name="<b>bold</b> & co")
    await create_objective(client, scorecard["id"], name=hostile)
    response = await client.get(
        f"/v1/scorecards/{scorecard['id']}/map", headers={"Accept": "image/svg+xml"}
    )
    assert response.status_code == 200
    assert "<script" not in response.text and "<b>" not in response.text
    assert "&lt;script&gt;" in response.text
    root = ET.fromstring(response.text)  # still well-formed
    [box] = root.findall(f".//{SVG_NS}g")
    assert box.find(f"{SVG_NS}title").text == hostile
    assert root.find(f"{SVG_NS}title").text == "Strategy map: <b>bold</b> & co"


async def test_custom_perspectives_keep_their_place(client):
    scorecard = await create_scorecard(
        client,
        perspectives=[
            {"key": "learning_growth", "name": "People"},
            {"key": "community", "name": "Community"},
            {"key": "financial", "name": "Money"},
        ],
    )
    sid = scorecard["id"]
    for perspective in ("learning_growth", "community", "financial"):
        await create_objective(client, sid, perspective=perspective, name=perspective)
    body = (await client.get(f"/v1/scorecards/{sid}/map")).json()
    assert [n["perspective"] for n in body["nodes"]] == [
        "financial",
        "community",
        "learning_growth",
    ]
    assert body["edges"] == []


async def test_map_errors_and_scope(client, scoped_client, academy):
    sid = academy["scorecard"]["id"]
    missing = await client.get(f"/v1/scorecards/{uuid.uuid4()}/map")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    for bad in ("2026-03-20T12:00:00", "yesterday", "2026-13-01T00:00:00Z", "nan"):
        response = await client.get(f"/v1/scorecards/{sid}/map", params={"as_of": bad})
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == PROBLEM
    reader = await scoped_client(Scope.read)
    assert (await reader.get(f"/v1/scorecards/{sid}/map")).status_code == 200
    reader.headers.pop("Authorization")
    assert (await reader.get(f"/v1/scorecards/{sid}/map")).status_code == 401


async def test_concurrent_edits_cannot_close_a_cycle_together(client, academy):
    """Each edit alone is fine; together they would close a cycle: the scorecard's lock lets
    one in, and the other sees its arrow and is refused."""
    sid = academy["scorecard"]["id"]
    cost = await create_objective(client, sid, perspective="financial", name="Margin")
    skills = await create_objective(client, sid, name="Coaching")
    for _ in range(3):
        answers = await asyncio.gather(
            client.patch(f"/v1/objectives/{cost['id']}", json={"drives": [skills["id"]]}),
            client.patch(f"/v1/objectives/{skills['id']}", json={"drives": [cost["id"]]}),
        )
        assert sorted(a.status_code for a in answers) == [200, 422]
        cost_drives = (await client.get(f"/v1/objectives/{cost['id']}")).json()["drives"]
        skills_drives = (await client.get(f"/v1/objectives/{skills['id']}")).json()["drives"]
        assert not (cost_drives and skills_drives)
        await client.patch(f"/v1/objectives/{cost['id']}", json={"drives": []})
        await client.patch(f"/v1/objectives/{skills['id']}", json={"drives": []})


async def test_objective_writes_need_scope_write(scoped_client, client, academy):
    reader = await scoped_client(Scope.read)
    response = await reader.patch(
        f"/v1/objectives/{academy['cost']['id']}", json={"drives": [academy["skills"]["id"]]}
    )
    assert response.status_code == 403

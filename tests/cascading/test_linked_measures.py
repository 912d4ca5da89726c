"""Linked measures over HTTP: a department scorecard rolls up its teams' scorecards, a measure
takes another measure's value over its own period; linked measures take no readings, no
formula, no xAPI mapping; cycles and chains deeper than five links are refused; what another
links cannot be deleted. Every number below is computed by hand."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import create_measure, create_scorecard

PROBLEM = "application/problem+json"
AS_OF = "2026-03-20T12:00:00Z"


async def reading(client, measure_id: str, value: float, at: str = "2026-03-10T09:00:00Z"):
    response = await client.post(
        f"/v1/measures/{measure_id}/readings", json={"value": value, "observed_at": at}
    )
    assert response.status_code == 201, response.text


async def score(client, scorecard_id: str, as_of: str = AS_OF) -> dict[str, Any]:
    response = await client.get(f"/v1/scorecards/{scorecard_id}/score", params={"as_of": as_of})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def nodes(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["key"]: m for p in tree["perspectives"] for m in p["measures"]}


@pytest.fixture
async def department(client) -> dict[str, Any]:
    """Team A scores 80 (one measure at 80); team B 70 (40 and 100). The department links
    both scorecards with baseline 0 and target 100, so its measures' progress is their score."""
    team_a = await create_scorecard(client, name="Team A")
    team_b = await create_scorecard(client, name="Team B")
    a1 = await create_measure(client, team_a["id"], key="a1")
    b1 = await create_measure(client, team_b["id"], key="b1")
    b2 = await create_measure(client, team_b["id"], key="b2")
    await reading(client, a1["id"], 80)
    await reading(client, a1["id"], 10, at="2026-03-25T09:00:00Z")  # after as_of
    await reading(client, b1["id"], 40)
    await reading(client, b2["id"], 100)
    dept = await create_scorecard(client, name="Department")
    team_a_link = await create_measure(
        client, dept["id"], key="team-a", source={"scorecard_id": team_a["id"]}
    )
    team_b_link = await create_measure(
        client, dept["id"], key="team-b", source={"scorecard_id": team_b["id"]}
    )
    return {
        "team_a": team_a,
        "team_b": team_b,
        "a1": a1,
        "b1": b1,
        "dept": dept,
        "team_a_link": team_a_link,
        "team_b_link": team_b_link,
    }


async def test_a_department_rolls_up_its_teams(client, department):
    assert department["team_a_link"]["source"] == {
        "measure_id": None,
        "scorecard_id": department["team_a"]["id"],
    }
    assert (await score(client, department["team_a"]["id"]))["score"] == 80.0
    assert (await score(client, department["team_b"]["id"]))["score"] == 70.0
    tree = await score(client, department["dept"]["id"])
    team_a, team_b = nodes(tree)["team-a"], nodes(tree)["team-b"]
    assert (team_a["value"], team_a["progress"], team_a["score"]) == (80.0, 80.0, 80.0)
    assert (team_b["value"], team_b["progress"], team_b["score"]) == (70.0, 70.0, 70.0)
    assert team_a["status"] == team_b["status"] == "amber"
    assert team_a["source"] == {"measure_id": None, "scorecard_id": department["team_a"]["id"]}
    assert team_a["readings_in_period"] == 0 and team_a["last_observed_at"] is None
    assert team_a["stale"] is False
    # One perspective of four has data.
    assert (tree["score"], tree["status"], tree["coverage"]) == (75.0, "amber", 0.25)
    # After team A's later reading (10), the department sees it at the same instant.
    later = await score(client, department["dept"]["id"], "2026-03-26T00:00:00Z")
    assert nodes(later)["team-a"]["score"] == 10.0
    assert later["score"] == 40.0  # (10 + 70) / 2


async def test_an_organisation_rolls_up_departments(client, department):
    org = await create_scorecard(client, name="Organisation")
    await create_measure(
        client, org["id"], key="dept", source={"scorecard_id": department["dept"]["id"]}
    )
    tree = await score(client, org["id"])
    assert nodes(tree)["dept"]["value"] == 75.0
    assert tree["score"] == 75.0


async def test_measure_score_and_history_show_the_source(client, department):
    link = department["team_a_link"]
    one = await client.get(f"/v1/measures/{link['id']}/score", params={"as_of": AS_OF})
    assert one.status_code == 200
    assert one.json()["value"] == 80.0
    assert one.json()["source"]["scorecard_id"] == department["team_a"]["id"]
    history = await client.get(
        f"/v1/measures/{link['id']}/history",
        params={"from": "2026-02-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
    )
    assert history.status_code == 200, history.text
    body = history.json()
    assert body["source"]["scorecard_id"] == department["team_a"]["id"]
    # February: no readings anywhere yet; March (closed at its end): team A's latest is 10.
    assert [e["value"] for e in body["entries"]] == [None, 10.0]
    card = await client.get(
        f"/v1/scorecards/{department['dept']['id']}/history",
        params={"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
    )
    assert card.status_code == 200
    assert [e["score"] for e in card.json()["entries"]] == [40.0]  # (10 + 70) / 2
    plain = await client.get(f"/v1/measures/{department['b1']['id']}/score")
    assert plain.json()["source"] is None


async def test_a_measure_source_over_the_linked_measures_period(client):
    team = await create_scorecard(client, name="Team")
    hours = await create_measure(
        client, team["id"], key="hours", aggregation="sum", baseline=0, target=100
    )
    await reading(client, hours["id"], 7, at="2026-02-20T09:00:00Z")
    await reading(client, hours["id"], 10, at="2026-03-02T09:00:00Z")
    await reading(client, hours["id"], 5, at="2026-03-10T09:00:00Z")
    report = await create_scorecard(client, name="Report")
    monthly = await create_measure(
        client,
        report["id"],
        key="monthly",
        source={"measure_id": hours["id"]},
        baseline=0,
        target=60,
    )
    quarterly = await create_measure(
        client,
        report["id"],
        key="quarterly",
        cadence="quarter",
        source={"measure_id": hours["id"]},
        baseline=0,
        target=40,
    )
    tree = nodes(await score(client, report["id"]))
    # March so far: 10 + 5 = 15 of 60 → 25; Q1 so far: 7 + 10 + 5 = 22 of 40 → 55.
    assert (tree["monthly"]["value"], tree["monthly"]["score"]) == (15.0, 25.0)
    assert (tree["quarterly"]["value"], tree["quarterly"]["score"]) == (22.0, 55.0)
    assert tree["monthly"]["status"] == tree["quarterly"]["status"] == "red"
    # Its trend: February's sum was 7 → 11.67 (rounded like every score).
    assert tree["monthly"]["trend"]["previous_score"] == pytest.approx(11.6667, abs=1e-3)
    assert monthly["source"] == {"measure_id": hours["id"], "scorecard_id": None}
    assert quarterly["cadence"] == "quarter"


async def test_a_link_to_a_derived_measure_and_a_chain_of_links(client):
    team = await create_scorecard(client, name="Team")
    done = await create_measure(client, team["id"], key="done")
    enrolled = await create_measure(client, team["id"], key="enrolled")
    await create_measure(client, team["id"], key="rate", formula="done / enrolled * 100")
    await reading(client, done["id"], 30)
    await reading(client, enrolled["id"], 40)
    rate_id = next(
        m["id"]
        for m in (await client.get(f"/v1/scorecards/{team['id']}/measures")).json()["items"]
        if m["key"] == "rate"
    )
    dept = await create_scorecard(client, name="Dept")
    dept_rate = await create_measure(client, dept["id"], key="rate", source={"measure_id": rate_id})
    org = await create_scorecard(client, name="Org")
    await create_measure(client, org["id"], key="rate", source={"measure_id": dept_rate["id"]})
    assert nodes(await score(client, dept["id"]))["rate"]["value"] == 75.0
    assert nodes(await score(client, org["id"]))["rate"]["value"] == 75.0


async def test_linked_measures_take_no_readings(client, department):
    link = department["team_a_link"]
    single = await client.post(
        f"/v1/measures/{link['id']}/readings",
        json={"value": 1, "observed_at": "2026-03-10T09:00:00Z"},
    )
    assert single.status_code == 409
    assert single.headers["content-type"] == PROBLEM
    assert "linked" in single.json()["detail"]
    ok = {"measure_id": department["b1"]["id"], "value": 1, "observed_at": AS_OF}
    bad = {"measure_id": link["id"], "value": 1, "observed_at": AS_OF}
    batch = await client.post("/v1/readings/batch", json={"readings": [ok, bad]})
    assert batch.status_code == 409
    assert batch.json()["errors"][0]["loc"] == ["body", "readings", 1, "measure_id"]
    csv = (
        f"measure_id,value,observed_at\n{department['b1']['id']},1,{AS_OF}\n"
        f"{link['id']},1,{AS_OF}\n"
    )
    imported = await client.post(
        "/v1/readings/import", content=csv, headers={"Content-Type": "text/csv"}
    )
    assert imported.status_code == 409
    # Nothing was stored: b1 still has one reading.
    listed = await client.get(f"/v1/measures/{department['b1']['id']}/readings")
    assert len(listed.json()["items"]) == 1
    # A measure with readings cannot become linked.
    relinked = await client.patch(
        f"/v1/measures/{department['b1']['id']}",
        json={"source": {"scorecard_id": department["team_a"]["id"]}},
    )
    assert relinked.status_code == 409


async def test_no_formula_xapi_or_due_readings_with_a_source(client, department):
    sid = department["dept"]["id"]
    source = {"scorecard_id": department["team_a"]["id"]}
    xapi = {"verb": "http://adlnet.gov/expapi/verbs/completed", "value": "count"}
    for extra, field in (
        ({"formula": "team-a * 2"}, "formula"),
        ({"xapi": xapi}, "xapi"),
        ({"due_after_days": 3}, "due_after_days"),
    ):
        response = await client.post(
            f"/v1/scorecards/{sid}/measures",
            json={
                "key": "x",
                "name": "X",
                "perspective": "customer",
                "direction": "increase",
                "baseline": 0,
                "target": 100,
                "source": source,
                **extra,
            },
        )
        assert response.status_code == 422, (field, response.text)
        assert field in response.text
    patched = await client.patch(
        f"/v1/measures/{department['team_a_link']['id']}", json={"formula": "1 + 1"}
    )
    assert patched.status_code == 422


@pytest.mark.parametrize(
    "source",
    [
        "not-an-object",
        [],
        1,
        {},
        {"measure_id": None},
        {"measure_id": None, "scorecard_id": None},
        {"measure_id": "not-a-uuid"},
        {"scorecard_id": 12},
        {"scorecard_id": "01936f4e-0000-7000-8000-00000000000\x00"},
        {"measure_id": str(uuid.uuid4()), "scorecard_id": str(uuid.uuid4())},
        {"measure_id": str(uuid.uuid4()), "extra": 1},
        {"measure_id": str(uuid.uuid4())},  # no such measure
        {"scorecard_id": str(uuid.uuid4())},  # no such scorecard
        {"scorecard_id": "x" * 10_000},
    ],
    ids=repr,
)
async def test_hostile_sources_are_refused(client, department, source):
    response = await client.post(
        f"/v1/scorecards/{department['dept']['id']}/measures",
        json={
            "key": "hostile",
            "name": "H",
            "perspective": "customer",
            "direction": "increase",
            "baseline": 0,
            "target": 100,
            "source": source,
        },
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["loc"][:2] == ["body", "source"]
    patched = await client.patch(
        f"/v1/measures/{department['team_a_link']['id']}", json={"source": source}
    )
    assert patched.status_code == 422, patched.text


async def test_cycles_are_refused_naming_them(client, department):
    # Team A linking the department: department → team A → department.
    response = await client.post(
        f"/v1/scorecards/{department['team_a']['id']}/measures",
        json={
            "key": "up",
            "name": "Up",
            "perspective": "customer",
            "direction": "increase",
            "baseline": 0,
            "target": 100,
            "source": {"scorecard_id": department["dept"]["id"]},
        },
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "source"]
    assert "cycle" in error["message"] and "'team-a'" in error["message"]
    # A measure linked to itself, or to its own scorecard.
    link = department["team_a_link"]
    itself = await client.patch(
        f"/v1/measures/{link['id']}", json={"source": {"measure_id": link["id"]}}
    )
    assert itself.status_code == 422 and "cycle" in itself.text
    own = await client.patch(
        f"/v1/measures/{link['id']}", json={"source": {"scorecard_id": department["dept"]["id"]}}
    )
    assert own.status_code == 422 and "cycle" in own.text
    # Through another scorecard's linked measure: team B → the department's team-b → team B.
    team_b = department["team_b"]["id"]
    sneaky = await client.post(
        f"/v1/scorecards/{team_b}/measures",
        json={
            "key": "dept",
            "name": "D",
            "perspective": "customer",
            "direction": "increase",
            "baseline": 0,
            "target": 100,
            "source": {"measure_id": department["team_b_link"]["id"]},
        },
    )
    assert sneaky.status_code == 422
    assert "'team-b'" in sneaky.json()["errors"][0]["message"]
    # Through a formula: a derived measure of the department over its links is fine, but
    # team A linking that derived measure closes a cycle.
    combo = await create_measure(
        client, department["dept"]["id"], key="combo", formula="team-a + team-b"
    )
    via_formula = await client.post(
        f"/v1/scorecards/{department['team_a']['id']}/measures",
        json={
            "key": "combo-copy",
            "name": "C",
            "perspective": "customer",
            "direction": "increase",
            "baseline": 0,
            "target": 100,
            "source": {"measure_id": combo["id"]},
        },
    )
    assert via_formula.status_code == 422
    assert "'combo'" in via_formula.json()["errors"][0]["message"]


async def test_chains_deeper_than_five_links_are_refused(client):
    bottom = await create_scorecard(client, name="Level 0")
    await create_measure(client, bottom["id"], key="base")
    below = bottom
    for level in range(1, 6):
        card = await create_scorecard(client, name=f"Level {level}")
        await create_measure(
            client, card["id"], key=f"l{level}", source={"scorecard_id": below["id"]}
        )
        below = card
    top = await create_scorecard(client, name="Level 6")
    response = await client.post(
        f"/v1/scorecards/{top['id']}/measures",
        json={
            "key": "l6",
            "name": "L6",
            "perspective": "customer",
            "direction": "increase",
            "baseline": 0,
            "target": 100,
            "source": {"scorecard_id": below["id"]},
        },
    )
    assert response.status_code == 422
    message = response.json()["errors"][0]["message"]
    assert "at most 5 levels" in message and "'l6'" in message and "'base'" in message


async def test_what_another_links_cannot_be_deleted(client, department):
    report = await create_scorecard(client, name="Report")
    linked = await create_measure(
        client, report["id"], key="a1-copy", source={"measure_id": department["a1"]["id"]}
    )
    measure = await client.delete(f"/v1/measures/{department['a1']['id']}?cascade=true")
    assert measure.status_code == 409
    assert linked["id"] in measure.json()["detail"]
    card = await client.delete(f"/v1/scorecards/{department['team_a']['id']}?cascade=true")
    assert card.status_code == 409
    detail = card.json()["detail"]
    assert department["team_a_link"]["id"] in detail and linked["id"] in detail
    # Unlinked, they go.
    assert (await client.delete(f"/v1/measures/{linked['id']}")).status_code == 204
    unlinked = await client.patch(
        f"/v1/measures/{department['team_a_link']['id']}", json={"source": None}
    )
    assert unlinked.status_code == 200 and unlinked.json()["source"] is None
    gone = await client.delete(f"/v1/scorecards/{department['team_a']['id']}?cascade=true")
    assert gone.status_code == 204


async def test_a_write_to_a_source_records_the_linked_measures_crossings(client, app, sessionmaker):
    """A reading that moves a team's score re-evaluates, in its own transaction, every linked
    measure that depends on it: the department's link to the team scorecard, the
    organisation's link to the department, and the department's derived measure over its
    link; each crossing is an event. The sweeper then finds nothing left to do."""
    from app.thresholds.sweeper import sweep

    now = datetime.now(UTC)
    team = await create_scorecard(client, name="Team")
    m = await create_measure(client, team["id"], key="m")
    await reading(client, m["id"], 95, at=(now - timedelta(seconds=10)).isoformat())
    dept = await create_scorecard(client, name="Dept")
    link = await create_measure(client, dept["id"], key="team", source={"scorecard_id": team["id"]})
    half = await create_measure(client, dept["id"], key="half", formula="team / 2")
    org = await create_scorecard(client, name="Org")
    top = await create_measure(client, org["id"], key="dept", source={"scorecard_id": dept["id"]})
    # The department: (95 + 47.5) / 2 = 71.25, amber.
    assert (link["status"], half["status"], top["status"]) == ("green", "red", "amber")
    # 95 → 50: the team link turns red; the org sees the department's (50 + 25) / 2 = 37.5.
    await reading(client, m["id"], 50, at=(now - timedelta(seconds=5)).isoformat())

    async def status(measure: dict[str, Any]) -> str:
        return (await client.get(f"/v1/measures/{measure['id']}")).json()["status"]  # type: ignore[no-any-return]

    assert (await status(link), await status(half), await status(top)) == ("red", "red", "red")
    events = (await client.get("/v1/events", params={"type": "measure.threshold_crossed"})).json()[
        "items"
    ]

    def chain(measure: dict[str, Any]) -> list[tuple[str, str]]:
        mine = [e["data"] for e in events if e["data"]["measure_id"] == measure["id"]]
        return sorted((d["previous_status"], d["status"]) for d in mine)

    assert chain(link) == [("green", "red"), ("no_data", "green")]
    assert chain(top) == [("amber", "red"), ("no_data", "amber")]
    assert chain(half) == [("no_data", "red")]
    assert await sweep(sessionmaker, datetime.now(UTC)) == 0


async def test_a_score_is_a_constant_number_of_queries_per_level(client, app):
    """Scoring a scorecard costs its definition, one query per level of linking, one for the
    readings of every level and one for commentary: a chain of three links, six queries, however
    many measures each level has (two links per level, each to a whole scorecard)."""
    from app.scores.data import Definitions
    from app.scores.service import score_scorecard
    from app.scoring import PeriodSelector

    below = await create_scorecard(client, name="Level 0")
    for key in ("a", "b", "c"):
        measure = await create_measure(client, below["id"], key=key)
        await reading(client, measure["id"], 60)
    for level in range(1, 4):
        card = await create_scorecard(client, name=f"Level {level}")
        for key in ("x", "y"):
            await create_measure(client, card["id"], key=key, source={"scorecard_id": below["id"]})
        below = card
    statements: list[str] = []
    definitions = Definitions()
    as_of = datetime(2026, 3, 20, 12, tzinfo=UTC)

    def log(record: Any) -> None:
        statements.append(record.query)

    async with app.state.read_pool.acquire() as connection:
        connection.add_query_logger(log)
        try:
            # The first call also loads the definitions (and asyncpg learns the types).
            for _ in range(3):
                statements.clear()
                _, tree = await score_scorecard(
                    connection, definitions, uuid.UUID(below["id"]), as_of, PeriodSelector.current
                )
            assert len(statements) == 1 + 3 + 1 + 1, statements
        finally:
            connection.remove_query_logger(log)
    assert tree.score == 60.0


async def test_concurrent_links_cannot_close_a_cycle_together(client):
    """Each link alone is fine; together they would make a cycle across two scorecards: one
    gets in, the other sees it and is refused."""
    one = await create_scorecard(client, name="One")
    two = await create_scorecard(client, name="Two")
    for _ in range(3):
        answers = await asyncio.gather(
            client.post(
                f"/v1/scorecards/{one['id']}/measures",
                json={
                    "key": "from-two",
                    "name": "From two",
                    "perspective": "customer",
                    "direction": "increase",
                    "baseline": 0,
                    "target": 100,
                    "source": {"scorecard_id": two["id"]},
                },
            ),
            client.post(
                f"/v1/scorecards/{two['id']}/measures",
                json={
                    "key": "from-one",
                    "name": "From one",
                    "perspective": "customer",
                    "direction": "increase",
                    "baseline": 0,
                    "target": 100,
                    "source": {"scorecard_id": one["id"]},
                },
            ),
        )
        assert sorted(a.status_code for a in answers) == [201, 422]
        created = next(a.json() for a in answers if a.status_code == 201)
        assert (await client.delete(f"/v1/measures/{created['id']}")).status_code == 204


async def test_a_definition_edit_of_a_source_re_evaluates_its_links(client):
    team = await create_scorecard(client, name="Team")
    m = await create_measure(client, team["id"], key="m")
    await reading(client, m["id"], 80, at=(datetime.now(UTC) - timedelta(seconds=5)).isoformat())
    dept = await create_scorecard(client, name="Dept")
    link = await create_measure(client, dept["id"], key="team", source={"measure_id": m["id"]})
    assert link["status"] == "amber"
    # The link's own target: 80 of 0 → 200 is 40, red.
    patched = await client.patch(f"/v1/measures/{link['id']}", json={"target": 200})
    assert patched.json()["status"] == "red"
    # The team's target moves the team's score, and so a link to the team scorecard.
    card_link = await create_measure(
        client, dept["id"], key="card", source={"scorecard_id": team["id"]}
    )
    assert card_link["status"] == "amber"
    edited = await client.patch(f"/v1/measures/{m['id']}", json={"target": 85})
    assert edited.status_code == 200
    # 80 of 0 → 85: 94.12, green, for the team's measure and the link to its scorecard.
    after = (await client.get(f"/v1/measures/{card_link['id']}")).json()
    assert after["status"] == "green"


async def test_deleting_a_measure_re_evaluates_links_to_its_scorecard(client):
    team = await create_scorecard(client, name="Team")
    high = await create_measure(client, team["id"], key="high")
    low = await create_measure(client, team["id"], key="low")
    at = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    await reading(client, high["id"], 100, at=at)
    await reading(client, low["id"], 50, at=at)
    dept = await create_scorecard(client, name="Dept")
    link = await create_measure(client, dept["id"], key="team", source={"scorecard_id": team["id"]})
    assert link["status"] == "amber"  # (100 + 50) / 2 = 75
    deleted = await client.delete(f"/v1/measures/{low['id']}?cascade=true")
    assert deleted.status_code == 204
    assert (await client.get(f"/v1/measures/{link['id']}")).json()["status"] == "green"

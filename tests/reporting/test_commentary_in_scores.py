"""Commentary shows on the measure nodes of scores and on history entries, for their period;
`commentary_missing` flags the nodes whose status the scorecard wants explained."""

from __future__ import annotations

import pytest

from tests.factories import create_measure, create_scorecard

AS_OF = "2026-03-15T12:00:00Z"
MARCH = "2026-03-01T00:00:00Z"
FEBRUARY = "2026-02-01T00:00:00Z"


def nodes(score: dict) -> dict[str, dict]:
    found = {}
    for perspective in score["perspectives"]:
        for objective in perspective["objectives"]:
            found |= {m["key"]: m for m in objective["measures"]}
        found |= {m["key"]: m for m in perspective["measures"]}
    return found


async def _scorecard(client):
    scorecard = await create_scorecard(client, commentary_required_for=["red", "amber"])
    assert scorecard["commentary_required_for"] == ["red", "amber"]
    measures = {}
    # Baseline 0, target 100, latest value: score = value. 10 → red, 75 → amber, 95 → green.
    for key, value in (("late", 10), ("slow", 75), ("fine", 95)):
        measures[key] = await create_measure(client, scorecard["id"], key=key)
        posted = await client.post(
            f"/v1/measures/{measures[key]['id']}/readings",
            json={"value": value, "observed_at": "2026-03-10T09:00:00Z"},
        )
        assert posted.status_code == 201
    return scorecard, measures


async def test_score_nodes_carry_commentary_and_flag_what_is_missing(client):
    scorecard, measures = await _scorecard(client)
    url = f"/v1/scorecards/{scorecard['id']}/score"
    before = nodes((await client.get(url, params={"as_of": AS_OF})).json())
    assert {
        k: (n["status"], n["commentary"], n["commentary_missing"]) for k, n in before.items()
    } == {
        "late": ("red", None, True),
        "slow": ("amber", None, True),
        "fine": ("green", None, False),
    }

    # The same as_of again: a cached score would not show the new commentary.
    written = await client.put(
        f"/v1/measures/{measures['late']['id']}/commentary/{MARCH}",
        json={"analysis": "Trainer off sick.", "actions": "Book a cover."},
    )
    assert written.status_code == 201
    after = nodes((await client.get(url, params={"as_of": AS_OF})).json())
    assert after["late"]["commentary"] == {
        "analysis": "Trainer off sick.",
        "actions": "Book a cover.",
    }
    assert after["late"]["commentary_missing"] is False
    assert after["slow"]["commentary_missing"] is True

    # Commentary of another period does not count for this one.
    await client.put(
        f"/v1/measures/{measures['slow']['id']}/commentary/{FEBRUARY}", json={"analysis": "Feb"}
    )
    again = nodes((await client.get(url, params={"as_of": AS_OF})).json())
    assert again["slow"]["commentary"] is None
    assert again["slow"]["commentary_missing"] is True

    # The scorecard no longer asks for amber explanations.
    patched = await client.patch(
        f"/v1/scorecards/{scorecard['id']}", json={"commentary_required_for": ["red"]}
    )
    assert patched.status_code == 200
    assert patched.json()["commentary_required_for"] == ["red"]
    relaxed = nodes((await client.get(url, params={"as_of": AS_OF})).json())
    assert relaxed["slow"]["commentary_missing"] is False

    one = (
        await client.get(f"/v1/measures/{measures['late']['id']}/score", params={"as_of": AS_OF})
    ).json()
    assert one["commentary"]["analysis"] == "Trainer off sick."
    assert one["commentary_missing"] is False

    deleted = await client.delete(f"/v1/measures/{measures['late']['id']}/commentary/{MARCH}")
    assert deleted.status_code == 204
    gone = nodes((await client.get(url, params={"as_of": AS_OF})).json())
    assert gone["late"]["commentary"] is None
    assert gone["late"]["commentary_missing"] is True


async def test_previous_period_nodes_show_that_period_s_commentary(client):
    scorecard, measures = await _scorecard(client)
    await client.put(
        f"/v1/measures/{measures['fine']['id']}/commentary/{FEBRUARY}", json={"actions": "Keep"}
    )
    previous = nodes(
        (
            await client.get(
                f"/v1/scorecards/{scorecard['id']}/score",
                params={"as_of": AS_OF, "period": "previous"},
            )
        ).json()
    )
    assert previous["fine"]["period"]["start"] == FEBRUARY
    assert previous["fine"]["commentary"] == {"analysis": None, "actions": "Keep"}
    # February has no readings: no_data, which this scorecard does not ask about.
    assert previous["late"]["status"] == "no_data"
    assert previous["late"]["commentary_missing"] is False


async def test_history_entries_carry_their_period_s_commentary(client):
    _, measures = await _scorecard(client)
    measure_id = measures["late"]["id"]
    for start, text in ((FEBRUARY, "feb"), (MARCH, "mar")):
        put = await client.put(
            f"/v1/measures/{measure_id}/commentary/{start}", json={"analysis": text}
        )
        assert put.status_code == 201
    history = (
        await client.get(
            f"/v1/measures/{measure_id}/history",
            params={"from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
        )
    ).json()
    assert [(e["period"]["start"], e["commentary"]) for e in history["entries"]] == [
        ("2026-01-01T00:00:00Z", None),
        (FEBRUARY, {"analysis": "feb", "actions": None}),
        (MARCH, {"analysis": "mar", "actions": None}),
    ]


async def test_a_cadence_change_does_not_move_a_note_to_another_period(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    await client.put(f"/v1/measures/{measure['id']}/commentary/{MARCH}", json={"analysis": "m"})
    edit = await client.patch(f"/v1/measures/{measure['id']}", json={"cadence": "day"})
    assert edit.status_code == 200
    # 1 March is now a day period that starts where the month did; the note was the month's.
    score = (
        await client.get(
            f"/v1/measures/{measure['id']}/score", params={"as_of": "2026-03-01T12:00:00Z"}
        )
    ).json()
    assert score["period"] == {"start": MARCH, "end": "2026-03-02T00:00:00Z"}
    assert score["commentary"] is None
    listed = (await client.get(f"/v1/measures/{measure['id']}/commentary")).json()
    assert listed["items"][0]["period"] == {"start": MARCH, "end": "2026-04-01T00:00:00Z"}
    # Writing the day's note does not overwrite the month's: that one is deleted first.
    url = f"/v1/measures/{measure['id']}/commentary/{MARCH}"
    refused = await client.put(url, json={"analysis": "d"}, headers={"If-Match": '"1"'})
    assert refused.status_code == 409
    assert "2026-03-01T00:00:00Z to 2026-04-01T00:00:00Z" in refused.json()["detail"]
    assert (await client.get(url)).json()["analysis"] == "m"
    assert (await client.delete(url)).status_code == 204
    written = await client.put(url, json={"analysis": "d"})
    assert written.status_code == 201
    assert written.json()["period"] == {"start": MARCH, "end": "2026-03-02T00:00:00Z"}


async def test_commentary_required_for_defaults_to_none(client):
    scorecard = await create_scorecard(client)
    assert scorecard["commentary_required_for"] == []
    fetched = await client.get(f"/v1/scorecards/{scorecard['id']}")
    assert fetched.json()["commentary_required_for"] == []


@pytest.mark.parametrize(
    "value",
    [["purple"], ["red", "red"], "red", [1], [None], ["RED"], ["red\x00"], {"red": 1}],
)
async def test_hostile_commentary_required_for(client, value):
    response = await client.post(
        "/v1/scorecards", json={"name": "x", "commentary_required_for": value}
    )
    assert response.status_code == 422, response.text
    scorecard = await create_scorecard(client)
    patched = await client.patch(
        f"/v1/scorecards/{scorecard['id']}", json={"commentary_required_for": value}
    )
    assert patched.status_code == 422


async def test_commentary_required_for_cannot_be_null(client):
    scorecard = await create_scorecard(client)
    patched = await client.patch(
        f"/v1/scorecards/{scorecard['id']}", json={"commentary_required_for": None}
    )
    assert patched.status_code == 422

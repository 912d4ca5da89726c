"""The audit log: every change made through the API is recorded, in its own transaction, with
who made it and what changed; many readings in one request make one entry with counts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from app.audit.retention import prune_audit_log
from app.auth.keys import Scope, hash_key
from tests.factories import create_measure, create_scorecard

AUDIT = "/v1/audit"
V = {"X-Experience-API-Version": "1.0.3"}
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"


@pytest.fixture
def allow_private(app):
    """Webhook URLs on 127.0.0.1 are accepted for these tests (nothing is delivered)."""
    guarded = app.state.settings
    app.state.settings = guarded.model_copy(update={"scorecard_webhook_allow_private": True})
    yield
    app.state.settings = guarded


async def entries(client, **params) -> list[dict]:
    response = await client.get(AUDIT, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def key_id(client, name: str) -> str:
    keys = (await client.get("/v1/api-keys")).json()["items"]
    return next(k["id"] for k in keys if k["name"] == name)


async def test_scorecard_objective_and_measure_changes(client):
    admin_id = await key_id(client, "test-admin")
    scorecard = await create_scorecard(client, description="FY26")
    objective = (
        await client.post(
            f"/v1/scorecards/{scorecard['id']}/objectives",
            json={"perspective": "customer", "name": "Delight"},
        )
    ).json()
    measure = await create_measure(client, scorecard["id"], key="nps", target=50)
    patched = await client.patch(
        f"/v1/measures/{measure['id']}", json={"target": 60, "name": "Completion rate"}
    )
    assert patched.status_code == 200
    await client.patch(f"/v1/scorecards/{scorecard['id']}", json={"description": None})
    await client.patch(f"/v1/objectives/{objective['id']}", json={"weight": 2})
    assert (await client.delete(f"/v1/measures/{measure['id']}")).status_code == 204
    assert (await client.delete(f"/v1/objectives/{objective['id']}")).status_code == 204
    assert (await client.delete(f"/v1/scorecards/{scorecard['id']}")).status_code == 204

    log = await entries(client)
    assert [e["action"] for e in log] == [  # newest first
        "scorecard.deleted",
        "objective.deleted",
        "measure.deleted",
        "objective.updated",
        "scorecard.updated",
        "measure.updated",
        "measure.created",
        "objective.created",
        "scorecard.created",
    ]
    for entry in log:
        assert entry["actor"] == {"api_key_id": admin_id, "name": "test-admin"}
        assert entry["scorecard_id"] == scorecard["id"]
    by_action = {e["action"]: e for e in log}
    # An update names exactly the fields that changed ("name" was sent but did not change).
    assert by_action["measure.updated"]["changes"] == {"target": [50.0, 60.0]}
    assert by_action["measure.updated"]["resource_type"] == "measure"
    assert by_action["measure.updated"]["resource_id"] == measure["id"]
    assert by_action["scorecard.updated"]["changes"] == {"description": ["FY26", None]}
    assert by_action["objective.updated"]["changes"] == {"weight": [1.0, 2.0]}
    created = by_action["measure.created"]["changes"]
    assert created["key"] == [None, "nps"]
    assert created["target"] == [None, 50.0]
    assert created["scorecard_id"] == [None, scorecard["id"]]
    assert "version" not in created and "status" not in created
    assert by_action["scorecard.created"]["changes"]["name"] == [None, "T&D 2026"]
    assert by_action["objective.deleted"]["changes"]["name"] == ["Delight", None]


async def test_a_refused_change_records_nothing(client):
    scorecard = await create_scorecard(client)
    await create_measure(client, scorecard["id"], key="a")
    before = await entries(client)
    duplicate = await client.post(
        f"/v1/scorecards/{scorecard['id']}/measures",
        json={
            "key": "a",
            "name": "x",
            "perspective": "customer",
            "direction": "increase",
            "baseline": 0,
            "target": 1,
        },
    )
    assert duplicate.status_code == 409
    stale = await client.patch(
        f"/v1/scorecards/{scorecard['id']}", json={"name": "y"}, headers={"If-Match": '"9"'}
    )
    assert stale.status_code == 412
    assert await entries(client) == before


async def test_readings_one_by_one_and_in_bulk(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"], key="done")
    readings = f"/v1/measures/{measure['id']}/readings"
    single = await client.post(
        readings, json={"value": 3, "observed_at": "2026-03-01T09:00:00Z", "external_id": "e1"}
    )
    assert single.status_code == 201
    # An idempotent retry changes nothing and records nothing.
    retry = await client.post(
        readings, json={"value": 3, "observed_at": "2026-03-01T09:00:00Z", "external_id": "e1"}
    )
    assert retry.status_code == 200
    batch = await client.post(
        "/v1/readings/batch",
        json={
            "readings": [
                {"measure_id": measure["id"], "value": i, "observed_at": "2026-03-02T09:00:00Z"}
                for i in range(5)
            ]
            + [
                {
                    "measure_id": measure["id"],
                    "value": 3,
                    "observed_at": "2026-03-01T09:00:00Z",
                    "external_id": "e1",
                }
            ]
        },
    )
    assert batch.json() == {"created": 5, "duplicates": 1}
    csv = (
        "scorecard_id,measure_key,value,observed_at\n"
        f"{scorecard['id']},done,1,2026-03-03T09:00:00Z\n"
        f"{scorecard['id']},done,2,2026-03-04T09:00:00Z\n"
    )
    imported = await client.post(
        "/v1/readings/import", content=csv, headers={"Content-Type": "text/csv"}
    )
    assert imported.json() == {"created": 2, "duplicates": 0}
    deleted = await client.delete(f"/v1/readings/{single.json()['id']}")
    assert deleted.status_code == 204

    log = await entries(client, scorecard_id=scorecard["id"])
    assert [e["action"] for e in log[:4]] == [
        "reading.deleted",
        "reading.csv_imported",
        "reading.batch_recorded",
        "reading.created",
    ]
    deleted_entry, csv_entry, batch_entry, created_entry = log[:4]
    assert created_entry["resource_id"] == single.json()["id"]
    assert created_entry["changes"] == {
        "measure_id": [None, measure["id"]],
        "value": [None, 3.0],
        "observed_at": [None, "2026-03-01T09:00:00Z"],
        "external_id": [None, "e1"],
    }
    assert deleted_entry["changes"]["value"] == [3.0, None]
    assert batch_entry["changes"] == {"created": [None, 5], "duplicates": [None, 1]}
    assert batch_entry["resource_id"] is None
    assert batch_entry["resource_type"] == "reading"
    assert csv_entry["changes"] == {"created": [None, 2], "duplicates": [None, 0]}
    assert csv_entry["scorecard_id"] == scorecard["id"]
    # One entry per request, never one per reading: 1 create, 1 batch, 1 CSV, 1 delete.
    assert len([e for e in log if e["resource_type"] == "reading"]) == 4


async def test_a_refused_batch_records_nothing(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    before = await entries(client)
    bad = await client.post(
        "/v1/readings/batch",
        json={"readings": [{"measure_id": measure["id"], "value": "x", "observed_at": "now"}]},
    )
    assert bad.status_code == 422
    assert await entries(client) == before


async def test_xapi_requests_and_backfill_make_one_entry_each(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(
        client,
        scorecard["id"],
        aggregation="count",
        xapi={"verb": COMPLETED, "value": "count"},
    )
    statements = [
        {
            "actor": {"mbox": f"mailto:l{i}@example.com"},
            "verb": {"id": COMPLETED},
            "object": {"id": f"https://lms.example.com/course/{i}"},
            "timestamp": "2026-03-05T10:00:00Z",
        }
        for i in range(3)
    ]
    posted = await client.post("/xapi/statements", json=statements, headers=V)
    assert posted.status_code == 200, posted.text
    # The same statements again: stored already, nothing changes, nothing is recorded.
    assert (
        await client.post(
            "/xapi/statements",
            json=[s | {"id": i} for s, i in zip(statements, posted.json(), strict=True)],
            headers=V,
        )
    ).status_code == 200
    backfilled = await client.post(f"/v1/measures/{measure['id']}/xapi/backfill")
    assert backfilled.status_code == 200

    log = await entries(client, scorecard_id=scorecard["id"])
    assert [e["action"] for e in log[:2]] == ["reading.xapi_backfilled", "xapi_statement.stored"]
    assert log[1]["changes"] == {
        "statements": [None, 3],
        "created": [None, 3],
        "duplicates": [None, 0],
    }
    assert log[1]["resource_type"] == "xapi_statement"
    assert log[0]["resource_id"] == measure["id"]
    assert log[0]["changes"] == {
        "created": [None, 0],
        "duplicates": [None, 3],
        "skipped": [None, 0],
    }
    assert len(await entries(client, action="xapi_statement.stored")) == 1


async def test_commentary_entries(client):
    scorecard = await create_scorecard(client)
    measure = await create_measure(client, scorecard["id"])
    url = f"/v1/measures/{measure['id']}/commentary/2026-03-01T00:00:00Z"
    await client.put(url, json={"analysis": "a"})
    await client.put(url, json={"analysis": "a", "actions": "b"})
    await client.delete(url)
    log = await entries(client, resource_id=measure["id"])
    assert [(e["action"], e["resource_type"], e["changes"]) for e in log[:3]] == [
        (
            "commentary.deleted",
            "commentary",
            {
                "period_start": ["2026-03-01T00:00:00Z", None],
                "analysis": ["a", None],
                "actions": ["b", None],
            },
        ),
        (
            "commentary.updated",
            "commentary",
            {
                "period_start": ["2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z"],
                "actions": [None, "b"],
            },
        ),
        (
            "commentary.created",
            "commentary",
            {"period_start": [None, "2026-03-01T00:00:00Z"], "analysis": [None, "a"]},
        ),
    ]
    assert all(e["scorecard_id"] == scorecard["id"] for e in log)


async def test_initiative_entries(client):
    scorecard = await create_scorecard(client)
    sc = scorecard["id"]
    measure = await create_measure(client, sc)
    objective = (
        await client.post(
            f"/v1/scorecards/{sc}/objectives", json={"perspective": "customer", "name": "Delight"}
        )
    ).json()
    created = await client.post(
        f"/v1/scorecards/{sc}/initiatives",
        json={
            "name": "Academy",
            "start_date": "2026-03-01",
            "end_date": "2026-06-30",
            "measure_ids": [measure["id"]],
            "budget": {"planned": 1000.5, "spent": 0, "currency": "EUR"},
        },
    )
    assert created.status_code == 201
    initiative = created.json()
    url = f"/v1/initiatives/{initiative['id']}"
    patched = await client.patch(
        url,
        json={
            "status": "at_risk",
            "progress": 40,
            "name": "Academy",  # sent, unchanged: not an entry's change
            "objective_ids": [objective["id"]],
            "measure_ids": [],
            "end_date": "2026-07-31",
            "budget": None,
        },
    )
    assert patched.status_code == 200
    # A refused change records nothing.
    assert (await client.patch(url, json={"progress": 101})).status_code == 422
    assert (
        await client.patch(url, json={"name": "x"}, headers={"If-Match": '"1"'})
    ).status_code == 412
    assert (await client.delete(url)).status_code == 204

    log = await entries(client, resource_id=initiative["id"])
    assert [(e["action"], e["resource_type"]) for e in log] == [
        ("initiative.deleted", "initiative"),
        ("initiative.updated", "initiative"),
        ("initiative.created", "initiative"),
    ]
    assert all(e["scorecard_id"] == sc and e["resource_id"] == initiative["id"] for e in log)
    deleted, updated, create = (e["changes"] for e in log)
    assert create == {
        "scorecard_id": [None, sc],
        "name": [None, "Academy"],
        "objective_ids": [None, []],
        "measure_ids": [None, [measure["id"]]],
        "start_date": [None, "2026-03-01"],
        "end_date": [None, "2026-06-30"],
        "status": [None, "planned"],
        "progress": [None, 0.0],
        "budget": [None, {"planned": 1000.5, "spent": 0.0, "currency": "EUR"}],
    }
    assert updated == {
        "status": ["planned", "at_risk"],
        "progress": [0.0, 40.0],
        "objective_ids": [[], [objective["id"]]],
        "measure_ids": [[measure["id"]], []],
        "end_date": ["2026-06-30", "2026-07-31"],
        "budget": [{"planned": 1000.5, "spent": 0.0, "currency": "EUR"}, None],
    }
    assert deleted["name"] == ["Academy", None]
    assert deleted["status"] == ["at_risk", None]
    assert deleted["objective_ids"] == [[objective["id"]], None]
    # The action filter knows the initiative actions.
    assert [e["id"] for e in await entries(client, action="initiative.updated")] == [log[1]["id"]]


async def test_reporting_cycle_fields_in_update_entries(client):
    scorecard = await create_scorecard(client, timezone="Europe/Berlin")
    sc = scorecard["id"]
    measure = await create_measure(
        client,
        sc,
        targets=[{"from": "2026-07-01T00:00:00+02:00", "target": 200}],
        due_after_days=5,
    )
    # The same step with another offset for the same instant is no change.
    same = [{"from": "2026-06-30T22:00:00Z", "target": 200.0}]
    assert (await client.patch(f"/v1/measures/{measure['id']}", json={"targets": same})).is_success
    step = {
        "from": "2027-01-01T00:00:00+01:00",
        "target": 150,
        "thresholds": {"green": 90, "amber": 60},
    }
    patched = await client.patch(
        f"/v1/measures/{measure['id']}", json={"targets": [step], "due_after_days": None}
    )
    assert patched.status_code == 200
    locked = await client.patch(
        f"/v1/scorecards/{sc}",
        json={"locked_before": "2026-03-01T00:00:00+01:00", "commentary_required_for": ["red"]},
    )
    assert locked.status_code == 200
    reopened = await client.patch(f"/v1/scorecards/{sc}", json={"locked_before": None})
    assert reopened.status_code == 200

    log = await entries(client, scorecard_id=sc)
    reopen, lock, second, first, created, _ = log
    assert [e["action"] for e in (reopen, lock, second, first, created)] == [
        "scorecard.updated",
        "scorecard.updated",
        "measure.updated",
        "measure.updated",
        "measure.created",
    ]
    blank = {"baseline": None, "target_min": None, "target_max": None, "thresholds": None}
    # Target steps as the API writes them: every field, `from` in UTC with Z.
    june = {"from": "2026-06-30T22:00:00Z", **blank, "target": 200.0}
    assert created["changes"]["targets"] == [None, [june]]
    assert created["changes"]["due_after_days"] == [None, 5]
    assert created["changes"]["targets"][1] == measure["targets"]
    assert first["changes"] is None
    december = {
        "from": "2026-12-31T23:00:00Z",
        **blank,
        "target": 150.0,
        "thresholds": {"green": 90.0, "amber": 60.0},
    }
    assert second["changes"] == {"targets": [[june], [december]], "due_after_days": [5, None]}
    assert second["changes"]["targets"][1] == patched.json()["targets"]
    assert lock["changes"] == {
        "locked_before": [None, "2026-02-28T23:00:00Z"],
        "commentary_required_for": [[], ["red"]],
    }
    assert lock["changes"]["locked_before"][1] == locked.json()["locked_before"]
    assert reopen["changes"] == {"locked_before": ["2026-02-28T23:00:00Z", None]}


async def test_a_creation_entry_shows_each_value_as_the_api_wrote_it(client):
    """Same values, same JSON types (100.0, not 100): defaults included."""
    scorecard = await create_scorecard(client, locked_before="2026-01-01T00:00:00+01:00")
    measure = await create_measure(
        client, scorecard["id"], targets=[{"from": "2026-07-01T00:00:00Z", "thresholds": {}}]
    )
    initiative = (
        await client.post(
            f"/v1/scorecards/{scorecard['id']}/initiatives",
            json={"name": "I", "start_date": "2026-01-01", "end_date": "2026-02-01"},
        )
    ).json()
    log = await entries(client, scorecard_id=scorecard["id"])
    created = {e["resource_id"]: e["changes"] for e in log if e["action"].endswith(".created")}
    for resource in (scorecard, measure, initiative):
        changes = created[resource["id"]]
        assert len(changes) > 5
        for field, (old, new) in changes.items():
            assert old is None
            assert new == resource[field], field
            assert json.dumps(new, sort_keys=True) == json.dumps(resource[field], sort_keys=True), (
                field
            )


@pytest.mark.usefixtures("allow_private")
async def test_webhooks_and_api_keys_never_show_a_secret(client, app):
    scorecard = await create_scorecard(client)
    created = await client.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "scorecard_id": scorecard["id"]},
    )
    assert created.status_code == 201
    hook = created.json()
    rotated = await client.post(f"/v1/webhooks/{hook['id']}/rotate-secret")
    assert rotated.status_code == 200
    await client.patch(f"/v1/webhooks/{hook['id']}", json={"description": "LMS"})
    assert (await client.delete(f"/v1/webhooks/{hook['id']}")).status_code == 204
    new_key = await client.post("/v1/api-keys", json={"name": "lms", "scope": "ingest"})
    assert new_key.status_code == 201
    assert (await client.delete(f"/v1/api-keys/{new_key.json()['id']}")).status_code == 204

    log = await entries(client)
    assert [e["action"] for e in log[:6]] == [
        "api_key.deleted",
        "api_key.created",
        "webhook.deleted",
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.created",
    ]
    assert log[5]["changes"]["url"] == [None, "http://127.0.0.1:9/hook"]
    assert log[5]["scorecard_id"] == scorecard["id"]
    assert log[4]["changes"] is None
    assert log[3]["changes"] == {"description": [None, "LMS"]}
    assert log[1]["changes"]["name"] == [None, "lms"]
    assert log[1]["changes"]["scope"] == [None, "ingest"]
    assert log[1]["resource_id"] == new_key.json()["id"]
    assert log[0]["changes"]["name"] == ["lms", None]

    everything = json.dumps(log)
    async with app.state.engine.connect() as connection:
        stored = (
            await connection.execute(
                text(
                    "SELECT changes::text FROM audit_log "
                    "WHERE resource_type IN ('api_key', 'webhook')"
                )
            )
        ).all()
    raw = " ".join(str(row[0]) for row in stored)
    assert "127.0.0.1" in raw and "lms" in raw  # the entries are there
    for secret in (
        hook["secret"],
        rotated.json()["secret"],
        new_key.json()["key"],
        new_key.json()["key"].removeprefix("sc_"),
        hash_key(new_key.json()["key"]),
    ):
        assert secret not in everything
        assert secret not in raw
    for field in ("secret", "previous_secret", "key", "key_hash"):
        assert f'"{field}"' not in raw


async def test_filters_and_keyset_pages(client, scoped_client):
    writer = await scoped_client(Scope.write)
    writer_id = await key_id(client, "test-write")
    first = await create_scorecard(client, name="first")
    second = await create_scorecard(writer, name="second")
    measure = await create_measure(writer, second["id"])
    for name in ("a", "b", "c"):
        await writer.patch(f"/v1/scorecards/{second['id']}", json={"name": name})

    assert [e["action"] for e in await entries(client, scorecard_id=first["id"])] == [
        "scorecard.created"
    ]
    by_writer = await entries(client, actor=writer_id)
    assert len(by_writer) == 5
    assert await entries(client, actor="test-write") == by_writer
    assert [e["resource_id"] for e in await entries(client, resource_id=measure["id"])] == [
        measure["id"]
    ]
    updates = await entries(client, action="scorecard.updated")
    assert [e["changes"]["name"] for e in updates] == [["b", "c"], ["a", "b"], ["second", "a"]]

    # Pages of 2, newest first, no entry twice or missed.
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(AUDIT, params=params)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = await entries(client)
    assert seen == [e["id"] for e in everything]
    assert len(seen) == len(set(seen))  # admin-key and test-write key creation are CLI-made
    ats = [datetime.fromisoformat(e["at"]) for e in everything]
    assert ats == sorted(ats, reverse=True)

    # `after`: strictly later entries only.
    middle = everything[len(everything) // 2]
    later = await entries(client, after=middle["at"])
    assert all(
        datetime.fromisoformat(e["at"]) > datetime.fromisoformat(middle["at"]) for e in later
    )
    assert middle["id"] not in {e["id"] for e in later}
    assert await entries(client, after="2199-01-01T00:00:00Z") == []


async def test_actor_names_a_key_named_like_an_id_too(client, app):
    name = str(uuid.uuid4())
    key = (await client.post("/v1/api-keys", json={"name": name, "scope": "write"})).json()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {key['key']}"},
    ) as writer:
        scorecard = await create_scorecard(writer)
    for actor in (name, key["id"]):
        [entry] = await entries(client, actor=actor)
        assert (entry["resource_id"], entry["actor"]) == (
            scorecard["id"],
            {"api_key_id": key["id"], "name": name},
        )


async def test_only_admin_keys_read_the_log(client, scoped_client, anon):
    for scope in (Scope.read, Scope.write, Scope.ingest):
        other = await scoped_client(scope)
        assert (await other.get(AUDIT)).status_code == 403
    anon_client = anon
    del anon_client.headers["Authorization"]
    assert (await anon_client.get(AUDIT)).status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"scorecard_id": "nope"},
        {"resource_id": "123"},
        {"action": "measure.exploded"},
        {"action": "MEASURE.UPDATED"},
        {"after": "2026-03-01"},
        {"after": "1700000000"},
        {"after": "2026-03-01T00:00:00"},
        {"after": "1800-01-01T00:00:00Z"},
        {"actor": ""},
        {"actor": "x" * 201},
        {"actor": "bell\x07"},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "forged"},
        {"cursor": "WyJ4Il0"},
    ],
)
async def test_hostile_filters(client, params):
    response = await client.get(AUDIT, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_retention_prunes_old_entries_in_batches(app, client):
    engine = app.state.engine
    await create_scorecard(client)  # one recent entry
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO audit_log (id, at, action, resource_type) "
                "SELECT gen_random_uuid(), now() - make_interval(days => d), "
                "'scorecard.updated', 'scorecard' "
                "FROM generate_series(401, 401 + 2499) AS d"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO audit_log (id, at, action, resource_type) "
                "VALUES (gen_random_uuid(), now() - make_interval(days => 399), "
                "'scorecard.updated', 'scorecard')"
            )
        )
    # Two batches of 1,000 per call at most: 2,000 go, 500 wait for the next run.
    assert await prune_audit_log(engine, 400, max_batches=2) == 2000
    assert await prune_audit_log(engine, 400) == 500
    assert await prune_audit_log(engine, 400) == 0
    async with engine.connect() as connection:
        left = (await connection.execute(text("SELECT count(*) FROM audit_log"))).scalar_one()
    assert left == 2  # the recent entry and the one 399 days old


def test_retention_setting_defaults_and_validation(monkeypatch):
    from pydantic import ValidationError

    from app.core.settings import Settings

    assert Settings().scorecard_audit_retention_days == 400
    monkeypatch.setenv("SCORECARD_AUDIT_RETENTION_DAYS", "30")
    assert Settings().scorecard_audit_retention_days == 30
    for bad in ("0", "-1", "soon"):
        monkeypatch.setenv("SCORECARD_AUDIT_RETENTION_DAYS", bad)
        with pytest.raises(ValidationError):
            Settings()


async def test_entries_have_ids_and_utc_times(client):
    await create_scorecard(client)
    [entry] = await entries(client)
    uuid.UUID(entry["id"])
    assert entry["at"].endswith("Z")
    assert datetime.fromisoformat(entry["at"]) <= datetime.now(UTC)

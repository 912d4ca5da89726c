"""End to end: the real `tincan` client library (as an LMS's xAPI plugin uses it) against a real
`scorecard serve` process; its statements become readings and move the measure's score."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from tincan import (
    Activity,
    ActivityDefinition,
    Agent,
    LanguageMap,
    RemoteLRS,
    Result,
    Score,
    Statement,
    Verb,
)

from tests.e2e.server import running_server, scorecard_cli

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
COURSE = "https://lms.example.com/course/"


def completion(learner: str, course: str, **fields) -> Statement:
    return Statement(
        actor=Agent(name=learner, mbox=f"mailto:{learner.lower()}@example.com"),
        verb=Verb(id=COMPLETED, display=LanguageMap({"en-US": "completed"})),
        object=Activity(
            id=COURSE + course, definition=ActivityDefinition(name=LanguageMap({"en-US": course}))
        ),
        result=Result(completion=True, success=True, score=Score(scaled=0.9)),
        timestamp=datetime.now(UTC),
        **fields,
    )


@pytest.mark.e2e
def test_an_lms_sends_statements_with_the_tincan_library(clean_db):
    env = {"DATABASE_URL": clean_db}
    with running_server(clean_db) as (base_url, _):
        admin = scorecard_cli("api-keys", "create", "--name", "admin", "--scope", "admin", env=env)
        lms_key = scorecard_cli(
            "api-keys", "create", "--name", "lms", "--scope", "ingest", env=env
        ).stdout.strip()
        http = httpx.Client(
            base_url=base_url,
            timeout=10,
            headers={"Authorization": f"Bearer {admin.stdout.strip()}"},
        )
        scorecard = http.post("/v1/scorecards", json={"name": "Academy"}).json()
        measure = http.post(
            f"/v1/scorecards/{scorecard['id']}/measures",
            json={
                "key": "completions",
                "name": "Course completions",
                "perspective": "learning_growth",
                "direction": "increase",
                "baseline": 0,
                "target": 10,
                "aggregation": "count",
                "xapi": {"verb": COMPLETED, "activity_id_prefix": COURSE, "value": "count"},
            },
        ).json()

        lrs = RemoteLRS(
            endpoint=base_url + "/xapi/", username="lms", password=lms_key, version="1.0.3"
        )
        about = lrs.about()
        assert about.success, about.data
        assert "1.0.3" in about.content.version

        posted = lrs.save_statement(completion("Ada", "safety-101"))  # POST, the LRS picks the id
        assert posted.success, posted.data
        assert posted.content.id is not None
        given = str(uuid.uuid4())
        with_id = completion("Ben", "safety-101", id=given)
        put = lrs.save_statement(with_id)  # PUT ?statementId=
        assert put.success, put.data
        batch = lrs.save_statements([completion("Cy", "first-aid"), completion("Di", "first-aid")])
        assert batch.success, batch.data
        assert lrs.save_statement(with_id).success  # a retry: a no-op
        changed = completion("Ben", "first-aid", id=given)
        assert lrs.save_statement(changed).response.status == 409

        fetched = lrs.retrieve_statement(given)
        assert fetched.success, fetched.data
        assert fetched.content.actor.name == "Ben"
        assert fetched.content.stored is not None

        readings = http.get(f"/v1/measures/{measure['id']}/readings").json()["items"]
        assert len(readings) == 4
        assert given in {r["external_id"] for r in readings}
        score = http.get(f"/v1/measures/{measure['id']}/score").json()
        assert score["value"] == 4  # completions this month
        assert score["score"] == pytest.approx(40)
        http.close()

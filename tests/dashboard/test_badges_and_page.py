"""What a share link shows: badges to embed and the dashboard page, with the scorecard's
names as people typed them (escaped, never markup)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.factories import create_measure, create_scorecard

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
async def public(app, clean_db):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def _scorecard_at(client, name: str, value: float, measure_name: str = "Completion rate"):
    """A scorecard with one measure (0 → 100) read `value` now: its score is `value`."""
    scorecard = await create_scorecard(client, name=name)
    measure = await create_measure(
        client, scorecard["id"], key="completion", name=measure_name, unit="%"
    )
    reading = await client.post(
        f"/v1/measures/{measure['id']}/readings",
        json={"value": value, "observed_at": datetime.now(UTC).isoformat()},
    )
    assert reading.status_code == 201, reading.text
    link = (await client.post(f"/v1/scorecards/{scorecard['id']}/share-links")).json()
    return scorecard, measure, link


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG}text")]


async def test_the_scorecard_badge_says_name_score_and_status(client, public):
    _, _, link = await _scorecard_at(client, "Academy 2026", 82)
    response = await public.get(link["url"] + "/badge.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["cache-control"] == "max-age=60"
    assert response.headers["x-content-type-options"] == "nosniff"
    root = ET.fromstring(response.text)
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Academy 2026: 82 amber"
    assert root.find(f"{SVG}title").text == "Academy 2026: 82 amber"
    assert _texts(response.text) == ["Academy 2026"] * 2 + ["82 amber"] * 2
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert "#a14f00" in fills  # amber


async def test_badge_colours_follow_the_status(client, public):
    for value, word, colour in ((95, "95 green", "#2e7d32"), (40, "40 red", "#c62828")):
        _, _, link = await _scorecard_at(client, f"Card {value}", value)
        svg = (await public.get(link["url"] + "/badge.svg")).text
        assert _texts(svg)[-1] == word
        assert colour in [r.get("fill") for r in ET.fromstring(svg).iter(f"{SVG}rect")]


async def test_a_scorecard_without_readings_has_a_grey_no_data_badge(client, public):
    scorecard = await create_scorecard(client, name="Empty")
    link = (await client.post(f"/v1/scorecards/{scorecard['id']}/share-links")).json()
    svg = (await public.get(link["url"] + "/badge.svg")).text
    assert _texts(svg)[-1] == "no data"
    assert "#616161" in [r.get("fill") for r in ET.fromstring(svg).iter(f"{SVG}rect")]


async def test_the_measure_badge_names_the_measure(client, public):
    _, _, link = await _scorecard_at(client, "Academy", 60, measure_name="Learner NPS")
    response = await public.get(link["url"] + "/measures/completion/badge.svg")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "max-age=60"
    assert ET.fromstring(response.text).get("aria-label") == "Learner NPS: 60 red"
    assert (await public.get(link["url"] + "/measures/Completion/badge.svg")).status_code == 404


async def test_badge_width_grows_with_the_text(client, public):
    _, _, short = await _scorecard_at(client, "A", 82)
    _, _, long = await _scorecard_at(client, "Academy of Learning 2026", 82)
    short_w = int(ET.fromstring((await public.get(short["url"] + "/badge.svg")).text).get("width"))
    long_w = int(ET.fromstring((await public.get(long["url"] + "/badge.svg")).text).get("width"))
    # "Academy of Learning 2026" is ~23 characters wider, at 4–12 px each in Verdana 11 px.
    assert 23 * 4 < long_w - short_w < 23 * 12
    # A name of 200 characters is cut to 60, ending in "…": the badge stays badge-sized.
    _, _, longest = await _scorecard_at(client, "W" * 200, 82)
    svg = (await public.get(longest["url"] + "/badge.svg")).text
    assert _texts(svg)[0] == "W" * 59 + "…"
    assert int(ET.fromstring(svg).get("width")) < 60 * 12 + 100


async def test_names_are_text_in_badges_and_on_the_page(client, public):
    hostile = '<script>alert("x")</script> & R&D "quoted"'
    _, _, link = await _scorecard_at(client, hostile, 82, measure_name="<b>bold</b> & co")
    for path in ("/badge.svg", "/measures/completion/badge.svg"):
        svg = (await public.get(link["url"] + path)).text
        assert "<script" not in svg and "<b>" not in svg
        ET.fromstring(svg)  # still well-formed XML
    assert _texts((await public.get(link["url"] + "/badge.svg")).text)[0] == hostile
    page = (await public.get(link["url"])).text
    assert "<script" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(" in page and "R&amp;D" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page


async def test_the_page_shows_the_tree_with_words_values_and_history(client, public):
    _, measure, link = await _scorecard_at(client, "Academy 2026", 82)
    last_month = datetime.now(UTC).replace(day=1) - timedelta(days=10)
    await client.post(
        f"/v1/measures/{measure['id']}/readings",
        json={"value": 40, "observed_at": last_month.isoformat()},
    )
    response = await public.get(link["url"])
    assert response.status_code == 200
    headers = response.headers
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    page = response.text
    assert '<meta name="viewport"' in page
    assert "<h1>Academy 2026</h1>" in page
    assert ">Learning &amp; growth</h2>" in page
    assert "Completion rate" in page
    assert "82 amber" in page and "82%" in page and "100%" in page  # score, value, target
    assert "▲ up +42" in page  # from 40 last month
    # The measure's chart says its twelve months in words, the last two from the readings.
    [spoken] = re.findall(r'aria-label="Completion rate: score by month\. ([^"]*)"', page)
    months = spoken.split("; ")
    assert len(months) == 12 and months[0].endswith("no data")
    now = datetime.now(UTC)
    assert months[-2:] == [f"{last_month:%b %y}: 40 red", f"{now:%b %y}: 82 amber"]
    # Twelve months of charts: the scorecard's, one per perspective, one per measure; and the
    # strategy map.
    assert page.count("<svg") == 1 + 4 + 1 + 1
    assert '<h2 id="h-map">Strategy map</h2>' in page
    assert page.count("score by month") >= 6
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "No reading is due." in page


async def test_commentary_and_due_readings_show_on_the_page(client, public):
    scorecard = await create_scorecard(client, name="Academy", timezone="UTC")
    measure = await create_measure(
        client, scorecard["id"], key="nps", name="Learner NPS", due_after_days=0, owner="Kim"
    )
    now = datetime.now(UTC)
    await client.post(
        f"/v1/measures/{measure['id']}/readings",
        json={"value": 30, "observed_at": now.isoformat()},
    )
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    put = await client.put(
        f"/v1/measures/{measure['id']}/commentary/{month.isoformat()}",
        json={"analysis": "Two cohorts <moved>.", "actions": "Call their managers."},
    )
    assert put.status_code == 201, put.text
    link = (await client.post(f"/v1/scorecards/{scorecard['id']}/share-links")).json()
    page = (await public.get(link["url"])).text
    assert "Two cohorts &lt;moved&gt;." in page and "Call their managers." in page
    # Last month has no reading and was due when it ended: overdue.
    due = re.search(r"<h2 id=\"h-due\">.*?</section>", page, re.S).group(0)
    assert "Learner NPS" in due and "Kim" in due and "overdue" in due


async def test_an_unknown_token_gets_a_404_page(public):
    response = await public.get("/s/" + "a" * 43)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_initiatives_and_red_measures_without_one_show_on_the_page(client, public):
    scorecard, measure, link = await _scorecard_at(client, "Academy", 10)  # red
    objective = (
        await client.post(
            f"/v1/scorecards/{scorecard['id']}/objectives",
            json={"perspective": "financial", "name": "Spend well"},
        )
    ).json()
    page = (await public.get(link["url"])).text
    assert "red, and no initiative is working on it" in page
    today = datetime.now(UTC).date()
    created = await client.post(
        f"/v1/scorecards/{scorecard['id']}/initiatives",
        json={
            "name": "Coaching <pilot>",
            "objective_ids": [objective["id"]],
            "measure_ids": [measure["id"]],
            "start_date": today.isoformat(),
            "end_date": today.isoformat(),
            "status": "at_risk",
            "progress": 40,
        },
    )
    assert created.status_code == 201, created.text
    page = (await public.get(link["url"])).text
    assert 'Coaching &lt;pilot&gt; <span class="muted">(at risk, 40 % done)</span>' in page
    assert "red, and no initiative is working on it" not in page

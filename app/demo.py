"""`scorecard demo`: a realistic T&D balanced scorecard with a year of readings.

Idempotent: the scorecard has a fixed id and every reading an external_id, so a second run
changes nothing."""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.commentary.models import Commentary
from app.core.database import driver_connection
from app.initiatives.schemas import InitiativeCreate
from app.initiatives.service import create_initiative
from app.measures.schemas import MeasureCreate
from app.measures.service import create_measure
from app.readings.service import NewReading, record_readings
from app.scorecards.models import Scorecard
from app.scorecards.schemas import ObjectiveCreate, ScorecardCreate
from app.scorecards.service import create_objective, create_scorecard
from app.scores.data import Definitions
from app.scores.service import measure_history
from app.scoring import Cadence, period_containing

DEMO_SCORECARD_ID = uuid.UUID("01900000-0000-7000-8000-00000000de00")
DEMO_ZONE = ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class Series:
    """How a measure's readings are generated: one every `every` days, drifting from `start`
    to `end` over the year, with noise; with `at_most`, never above that measure's reading of
    the same day (no more completions than enrolments)."""

    every: int
    start: float
    end: float
    noise: float
    integer: bool = False
    at_most: str | None = None


# Who owes each objective's readings (the measure's `owner`, as in GET /v1/readings/due).
OWNERS = {
    "spend": "Finance business partner",
    "delight": "Learner experience lead",
    "deliver": "Learning operations",
    "capability": "Capability lead",
}

# (perspective, name, weight, the objectives it drives on the strategy map: created before it)
OBJECTIVES = {
    "spend": ("financial", "Spend the training budget where it pays back", 1.0, []),
    "delight": ("customer", "Delight learners and their managers", 1.0, ["spend"]),
    "deliver": ("internal_process", "Run efficient, current programmes", 1.0, ["delight"]),
    "capability": (
        "learning_growth",
        "Build the capabilities the business needs",
        2.0,
        ["deliver", "delight"],
    ),
}

# (objective, definition, series or None for derived measures)
MEASURES: list[tuple[str, dict[str, Any], Series | None]] = [
    (
        "spend",
        dict(
            key="cost-per-learner",
            name="Cost per learner",
            unit="EUR",
            level="roi",
            direction="decrease",
            baseline=600,
            target=420,
            due_after_days=10,
        ),
        Series(30, 610, 450, 25),
    ),
    (
        "spend",
        dict(
            key="training-roi",
            name="Training ROI",
            unit="%",
            level="roi",
            direction="increase",
            baseline=0,
            target=150,
            cadence="quarter",
            due_after_days=20,
        ),
        Series(91, 60, 135, 15),
    ),
    (
        "spend",
        dict(
            key="budget-utilisation",
            name="Budget utilisation",
            unit="%",
            direction="range",
            target_min=90,
            target_max=100,
            tolerance=15,
            due_after_days=5,
        ),
        Series(30, 70, 94, 4),
    ),
    (
        "delight",
        dict(
            key="learner-satisfaction",
            name="Learner satisfaction (1-5)",
            level="reaction",
            direction="increase",
            baseline=3.5,
            target=4.5,
            aggregation="mean",
        ),
        Series(1, 3.9, 4.4, 0.4),
    ),
    (
        "delight",
        dict(
            key="learner-nps",
            name="Learner NPS",
            level="reaction",
            direction="increase",
            baseline=0,
            target=50,
            due_after_days=5,
            # Mid-year, the bar goes up: from the half-year's first month on, 60 (MID_YEAR).
            targets=[{"from": "mid-year", "target": 60}],
        ),
        Series(30, 18, 41, 5),
    ),
    (
        "delight",
        dict(
            key="manager-endorsement",
            name="Managers who see behaviour change",
            unit="%",
            level="behavior",
            direction="increase",
            baseline=50,
            target=85,
            cadence="quarter",
            due_after_days=20,
        ),
        Series(91, 58, 79, 4),
    ),
    (
        "deliver",
        dict(
            key="enrolments",
            name="Enrolments",
            level="reaction",
            direction="increase",
            baseline=0,
            target=520,
            aggregation="sum",
            prorate=True,
        ),
        Series(1, 15, 19, 5, integer=True),
    ),
    (
        "deliver",
        dict(
            key="courses-completed",
            name="Courses completed",
            level="learning",
            direction="increase",
            baseline=0,
            target=440,
            aggregation="sum",
            prorate=True,
        ),
        Series(1, 11, 16, 4, integer=True, at_most="enrolments"),
    ),
    (
        "deliver",
        dict(
            key="completion-rate",
            name="Completion rate",
            unit="%",
            level="learning",
            direction="increase",
            baseline=60,
            target=90,
            formula="courses-completed / enrolments * 100",
        ),
        None,
    ),
    (
        "deliver",
        dict(
            key="time-to-competency",
            name="Time to competency (new hires)",
            unit="days",
            level="behavior",
            direction="decrease",
            baseline=90,
            target=60,
            aggregation="mean",
        ),
        Series(7, 84, 66, 6),
    ),
    (
        "deliver",
        dict(
            key="content-freshness",
            name="Courses reviewed in the last 12 months",
            unit="%",
            direction="increase",
            baseline=60,
            target=90,
            due_after_days=10,
        ),
        Series(30, 64, 83, 3),
    ),
    (
        "capability",
        dict(
            key="assessments-taken",
            name="Assessments taken",
            level="learning",
            direction="increase",
            baseline=0,
            target=300,
            aggregation="sum",
            prorate=True,
        ),
        Series(1, 9, 12, 3, integer=True),
    ),
    (
        "capability",
        dict(
            key="assessments-passed",
            name="Assessments passed",
            level="learning",
            direction="increase",
            baseline=0,
            target=255,
            aggregation="sum",
            prorate=True,
        ),
        Series(1, 7, 10.5, 2, integer=True, at_most="assessments-taken"),
    ),
    (
        "capability",
        dict(
            key="assessment-pass-rate",
            name="Assessment pass rate",
            unit="%",
            level="learning",
            direction="increase",
            baseline=60,
            target=85,
            formula="assessments-passed / assessments-taken * 100",
        ),
        None,
    ),
    (
        "capability",
        dict(
            key="training-hours",
            name="Training hours per employee",
            unit="h",
            level="learning",
            direction="increase",
            baseline=0,
            target=10,
            aggregation="sum",
            cadence="quarter",
            prorate=True,
        ),
        Series(7, 0.6, 0.85, 0.2),
    ),
    (
        "capability",
        dict(
            key="skills-coverage",
            name="Roles with a current skills profile",
            unit="%",
            level="results",
            direction="increase",
            baseline=40,
            target=80,
            due_after_days=10,
            targets=[{"from": "mid-year", "target": 90, "thresholds": {"green": 85, "amber": 65}}],
        ),
        Series(30, 45, 71, 2),
    ),
]


# (name, objective, measure keys, days from today to start and end, status, progress, budget)
# The second one is late: its end date has passed and it is not done.
INITIATIVES: list[tuple[str, str, list[str], int, int, str, float, dict[str, Any]]] = [
    (
        "Manager coaching programme",
        "capability",
        ["time-to-competency", "skills-coverage"],
        -120,
        60,
        "on_track",
        55,
        {"planned": 48_000, "spent": 26_500, "currency": "EUR"},
    ),
    (
        "LMS content refresh",
        "deliver",
        ["content-freshness"],
        -200,
        -30,
        "at_risk",
        70,
        {"planned": 30_000, "spent": 34_200, "currency": "EUR"},
    ),
    (
        "Learner survey redesign (US office)",
        "delight",
        ["learner-nps"],
        14,
        120,
        "planned",
        0,
        {"planned": 5_000, "spent": 0, "currency": "USD"},
    ),
]


def _readings(
    measure_id: uuid.UUID, key: str, series: Series, now: datetime, rng: random.Random
) -> list[NewReading]:
    readings = []
    days = 365
    for day in range(days - 1, -1, -series.every):
        observed_at = (now - timedelta(days=day)).replace(hour=9, minute=0, second=0, microsecond=0)
        if observed_at > now:
            continue
        progress = 1 - day / days
        trend = series.start + (series.end - series.start) * progress
        seasonal = 1 + 0.05 * math.sin(2 * math.pi * progress * 4)
        value = max(0.0, rng.gauss(trend * seasonal, series.noise))
        value = float(round(value)) if series.integer else round(value, 2)
        readings.append(
            NewReading(
                measure_id=measure_id,
                value=value,
                observed_at=observed_at,
                source="demo",
                external_id=f"demo-{key}-{day}",
            )
        )
    return readings


async def load_demo(session: AsyncSession, now: datetime | None = None) -> tuple[uuid.UUID, bool]:
    """Create the demo scorecard unless it exists; returns (id, created)."""
    now = now or datetime.now(UTC)
    if await session.get(Scorecard, DEMO_SCORECARD_ID) is not None:
        return DEMO_SCORECARD_ID, False
    await create_scorecard(
        session,
        ScorecardCreate(
            name="Academy: T&D balanced scorecard (demo)",
            owner="Learning & Development",
            description="A year of a corporate academy's training data, Kirkpatrick and Phillips "
            "levels across the four perspectives.",
            timezone=DEMO_ZONE.key,
            # Red months owe an explanation: the current one shows `commentary_missing`.
            commentary_required_for=["red"],
        ),
        scorecard_id=DEMO_SCORECARD_ID,
    )
    objectives: dict[str, uuid.UUID] = {}
    for name, (perspective, title, weight, drives) in OBJECTIVES.items():
        objective = await create_objective(
            session,
            DEMO_SCORECARD_ID,
            ObjectiveCreate(
                perspective=perspective,
                name=title,
                weight=weight,
                drives=[objectives[effect] for effect in drives],
            ),
        )
        objectives[name] = objective.id
    rng = random.Random(2026)  # noqa: S311 -- reproducible demo data, not a secret
    readings: list[NewReading] = []
    generated: dict[str, list[NewReading]] = {}
    measures: dict[str, uuid.UUID] = {}
    # The demo's year runs up to now; its second half starts on the first of a month, there.
    mid_year = period_containing(now - timedelta(days=182), Cadence.month, DEMO_ZONE).start
    for objective_name, fields, series in MEASURES:
        steps = [{**step, "from": mid_year} for step in fields.get("targets") or ()]
        measure = await create_measure(
            session,
            DEMO_SCORECARD_ID,
            MeasureCreate(
                objective_id=objectives[objective_name],
                owner=OWNERS[objective_name],
                **(fields | {"targets": steps or None}),
            ),
        )
        measures[fields["key"]] = measure.id
        if series is not None:
            generated[fields["key"]] = _readings(measure.id, fields["key"], series, now, rng)
            if series.at_most is not None:
                cap = {r.observed_at: r.value for r in generated[series.at_most]}
                generated[fields["key"]] = [
                    replace(r, value=min(r.value, cap.get(r.observed_at, r.value)))
                    for r in generated[fields["key"]]
                ]
            readings += generated[fields["key"]]
    await record_readings(session, readings)
    await _explain_red_periods(session, list(measures.values()), now)
    await session.commit()
    today = now.date()
    for name, objective_name, keys, start, end, status, progress, budget in INITIATIVES:
        await create_initiative(
            session,
            DEMO_SCORECARD_ID,
            InitiativeCreate.model_validate(
                {
                    "name": name,
                    "objective_ids": [objectives[objective_name]],
                    "measure_ids": [measures[key] for key in keys],
                    "start_date": today + timedelta(days=start),
                    "end_date": today + timedelta(days=end),
                    "status": status,
                    "progress": progress,
                    "budget": budget,
                }
            ),
        )
    return DEMO_SCORECARD_ID, True


# What the team wrote about its red periods: (analysis, actions), picked in turn.
RED_PERIOD_NOTES = [
    (
        "Two cohorts were postponed when the trainers were pulled into the product launch.",
        "Rebook both cohorts for next month; agree a trainer reserve with Operations.",
    ),
    (
        "LMS export failed for a week, so completions arrived late and partly by hand.",
        "IT fixes the export job; the LMS team checks the feed every Monday.",
    ),
    (
        "Budget freeze in the business units: managers cancelled external courses.",
        "Offer internal alternatives; bring the case for the spend to the next steering board.",
    ),
    (
        "Holiday season: attendance dropped and evaluations were not returned.",
        "Send evaluation reminders after three days; plan fewer sessions in holiday weeks.",
    ),
]


async def _explain_red_periods(
    session: AsyncSession, measure_ids: list[uuid.UUID], now: datetime
) -> None:
    """Commentary on every closed red period of the past year, as the team would have written
    it at the monthly review (the current period is still open: nothing written yet)."""
    connection = await driver_connection(session)  # sees the readings this transaction wrote
    definitions = Definitions()
    written = 0
    for measure_id in measure_ids:
        _, _, entries = await measure_history(
            connection, definitions, measure_id, now - timedelta(days=365), now, now
        )
        for entry in entries:
            if entry.status == "red" and entry.period.end <= now:
                analysis, actions = RED_PERIOD_NOTES[written % len(RED_PERIOD_NOTES)]
                session.add(
                    Commentary(
                        measure_id=measure_id,
                        period_start=entry.period.start,
                        period_end=entry.period.end,
                        analysis=analysis,
                        actions=actions,
                        author="L&D leadership team",
                    )
                )
                written += 1
    await session.flush()

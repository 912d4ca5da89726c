"""The dashboard a share link opens: what it shows, read in a fixed number of statements
(the link, the definition, the current scores, their commentary, a year of history, the due
readings), then rendered by one autoescaping template."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from asyncpg import Connection
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from app.dashboard.badges import COLOURS, score_text, status_word
from app.dashboard.charts import ChartPoint, history_chart
from app.dashboard.links import Shared
from app.readings.due import list_due
from app.scores.data import Definitions
from app.scores.service import score_scorecard, scorecard_history_trees
from app.scores.strategy_map import map_of_score, render_svg
from app.scoring import (
    MeasureScore,
    Period,
    PeriodSelector,
    ScorecardDefinition,
    ScorecardScore,
    Status,
)

HISTORY_MONTHS = 12
DUE_SHOWN = 200  # due readings listed; more are counted, not listed

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Dashboard:
    name: str
    definition: ScorecardDefinition
    score: ScorecardScore
    history: list[tuple[Period, ScorecardScore]]
    due: list[dict[str, Any]]
    due_more: bool
    # The strategy map, as the SVG `GET /v1/scorecards/{id}/map` draws.
    map_svg: Markup


async def load_dashboard(
    connection: Connection, definitions: Definitions, shared: Shared, now: datetime
) -> Dashboard:
    definition, score = await score_scorecard(
        connection, definitions, shared.scorecard_id, now, PeriodSelector.current
    )
    # Twelve months up to now: the month holding `now` and the eleven before it.
    history = await scorecard_history_trees(
        connection, definitions, definition, now - timedelta(days=366), now, now
    )
    due, next_cursor = await list_due(
        connection,
        now,
        filters={"scorecard_id": shared.scorecard_id},
        limit=DUE_SHOWN,
        cursor=None,
    )
    strategy = await map_of_score(connection, shared.scorecard_id, shared.name, score)
    return Dashboard(
        name=shared.name,
        definition=definition,
        score=score,
        history=history[-HISTORY_MONTHS:],
        due=due,
        due_more=next_cursor is not None,
        # Built by the renderer from escaped text only.
        map_svg=Markup(render_svg(strategy)),  # noqa: S704
    )


# --- rendering ---------------------------------------------------------------------------------


def _number(value: float | None, unit: str | None = None) -> str:
    if value is None:
        return "—"
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def _target(measure: MeasureScore) -> str:
    if measure.target_min is not None or measure.target_max is not None:
        low = _number(measure.target_min, measure.unit) if measure.target_min is not None else ""
        high = _number(measure.target_max, measure.unit) if measure.target_max is not None else ""
        return (
            f"{low} – {high}".strip(" –") if low and high else (f"≥ {low}" if low else f"≤ {high}")
        )
    return _number(measure.target, measure.unit)


_ARROWS = {"up": ("▲", "up"), "down": ("▼", "down"), "flat": ("▶", "flat")}


def _trend(measure: MeasureScore) -> str:
    if measure.trend is None or measure.trend.delta is None:
        return "—"
    arrow, word = _ARROWS.get(measure.trend.direction, ("", measure.trend.direction))
    delta = measure.trend.delta
    return f"{arrow} {word} {'+' if delta > 0 else ''}{_number(delta)}"


def _month(period: Period, zone: Any) -> str:
    return period.start.astimezone(zone).strftime("%b %y")


def _local(instant: datetime, zone: Any) -> str:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def dashboard_html(dashboard: Dashboard) -> str:
    definition = dashboard.definition
    zone = definition.timezone
    thresholds = definition.thresholds
    top = max(100.0, definition.score_cap)
    bands = (thresholds.green, thresholds.amber)
    months = [_month(period, zone) for period, _ in dashboard.history]

    def chart(title: str, scores: list[tuple[float | None, Status]], **size: Any) -> Markup:
        points = [ChartPoint(m, s, st) for m, (s, st) in zip(months, scores, strict=True)]
        return history_chart(title, points, top=top, bands=bands, **size)

    trees = [tree for _, tree in dashboard.history]
    scorecard_chart = chart(
        f"{dashboard.name}: score by month",
        [(t.score, t.status) for t in trees],
        width=760,
        height=150,
        axis=True,
    )
    perspective_charts: dict[str, Markup] = {}
    for perspective in dashboard.score.perspectives:
        series = [
            next(
                ((p.score, p.status) for p in t.perspectives if p.key == perspective.key),
                (None, Status.no_data),
            )
            for t in trees
        ]
        perspective_charts[perspective.key] = chart(f"{perspective.name}: score by month", series)
    measure_charts: dict[uuid.UUID, Markup] = {}
    by_tree = [{m.measure_id: m for m in t.measures()} for t in trees]
    for measure in dashboard.score.measures():
        series = [
            (found.score, found.status)
            if (found := tree.get(measure.measure_id))
            else (None, Status.no_data)
            for tree in by_tree
        ]
        measure_charts[measure.measure_id] = chart(
            f"{measure.name}: score by month", series, width=200, height=48
        )
    names = {m.key: m.name for m in definition.measures}
    due = [
        {
            **row,
            "name": names.get(row["measure_key"], row["measure_key"]),
            "period_label": _local(row["period"]["start"], zone)[:10],
            "due_label": _local(row["due_at"], zone),
        }
        for row in dashboard.due
    ]
    commented = [m for m in dashboard.score.measures() if m.commentary or m.commentary_missing]
    return _TEMPLATES.get_template("dashboard.html").render(
        d=dashboard,
        score=dashboard.score,
        as_of=_local(dashboard.score.as_of, zone),
        scorecard_chart=scorecard_chart,
        perspective_charts=perspective_charts,
        measure_charts=measure_charts,
        due=due,
        commented=commented,
        months=months,
        colours={s.value: c for s, c in COLOURS.items()},
        status_word=status_word,
        score_text=score_text,
        number=_number,
        target=_target,
        trend=_trend,
        period_label=lambda p: (
            f"{_local(p.start, zone)[:10]} – {_local(p.end - timedelta(microseconds=1), zone)[:10]}"
        ),
    )


def not_found_html() -> str:
    return _TEMPLATES.get_template("not_found.html").render()

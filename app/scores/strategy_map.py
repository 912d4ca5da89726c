"""The strategy map: a scorecard's objectives with their scores, and the arrows between them
(which objective drives which), as data and as an SVG picture.

The scores are the score tree's (`app.scores.service.score_scorecard`); the arrows are read by
one plain statement. The picture is drawn here, by hand: one band per perspective, the four
Kaplan–Norton perspectives in their order (financial at the top, learning & growth at the
bottom), one box per objective coloured by its status, one arrow per edge."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from asyncpg import Connection

from app.scores.data import Definitions
from app.scores.service import score_scorecard
from app.scoring import PeriodSelector, ScorecardScore

_ARROWS = """
SELECT d.objective_id, d.drives_id FROM objective_drives d
JOIN objectives o ON o.id = d.objective_id
WHERE o.scorecard_id = $1
ORDER BY d.objective_id, d.drives_id
"""
_NAME = "SELECT name FROM scorecards WHERE id = $1"


@dataclass(frozen=True)
class Node:
    objective_id: uuid.UUID
    name: str
    perspective: str
    score: float | None
    status: str


@dataclass(frozen=True)
class Band:
    key: str
    name: str
    nodes: list[Node]


@dataclass(frozen=True)
class StrategyMap:
    scorecard_name: str
    as_of: datetime
    bands: list[Band]  # top to bottom
    edges: list[tuple[uuid.UUID, uuid.UUID]]

    def as_json(self) -> dict[str, Any]:
        return {
            "nodes": [
                {
                    "objective_id": node.objective_id,
                    "name": node.name,
                    "perspective": node.perspective,
                    "score": node.score,
                    "status": node.status,
                }
                for band in self.bands
                for node in band.nodes
            ],
            "edges": [{"from": cause, "to": effect} for cause, effect in self.edges],
        }


# Kaplan–Norton, top to bottom: what the organisation achieves rests on what it learns.
KAPLAN_NORTON = ("financial", "customer", "internal_process", "learning_growth")


def band_order(keys: list[str]) -> list[str]:
    """The scorecard's perspective keys top to bottom: the places the four known ones take in
    its list are refilled in Kaplan–Norton order; its own perspectives keep their places."""
    known = iter(sorted((k for k in keys if k in KAPLAN_NORTON), key=KAPLAN_NORTON.index))
    return [next(known) if key in KAPLAN_NORTON else key for key in keys]


def strategy_map(
    name: str, score: ScorecardScore, arrows: list[tuple[uuid.UUID, uuid.UUID]]
) -> StrategyMap:
    perspectives = {p.key: p for p in score.perspectives}
    bands = [
        Band(
            key,
            perspectives[key].name,
            [
                Node(o.objective_id, o.name, key, o.score, o.status.value)
                for o in perspectives[key].objectives
            ],
        )
        for key in band_order(list(perspectives))
    ]
    return StrategyMap(name, score.as_of, bands, arrows)


async def load_strategy_map(
    connection: Connection, definitions: Definitions, scorecard_id: uuid.UUID, as_of: datetime
) -> StrategyMap:
    _, score = await score_scorecard(
        connection, definitions, scorecard_id, as_of, PeriodSelector.current
    )
    name = await connection.fetchval(_NAME, scorecard_id)
    return await map_of_score(connection, scorecard_id, name or "", score)


async def map_of_score(
    connection: Connection, scorecard_id: uuid.UUID, name: str, score: ScorecardScore
) -> StrategyMap:
    """The map of a score tree already computed (the dashboard's): one query, the arrows."""
    # An arrow drawn after the score was read, to an objective it did not see, is left out.
    shown = {node.objective_id for p in score.perspectives for node in p.objectives}
    arrows = [
        (cause, effect)
        for cause, effect in await connection.fetch(_ARROWS, scorecard_id)
        if cause in shown and effect in shown
    ]
    return strategy_map(name, score, arrows)


# The picture. Status colours: fill, border and text; grey for no data.
_COLOURS = {
    "green": ("#c8e6c9", "#2e7d32"),
    "amber": ("#ffe0b2", "#e65100"),
    "red": ("#ffcdd2", "#c62828"),
    "no_data": ("#eeeeee", "#757575"),
}
_STATUS_WORDS = {"green": "green", "amber": "amber", "red": "red", "no_data": "no data"}
LABEL_WIDTH = 170
BOX_WIDTH = 200
BOX_HEIGHT = 76
GAP = 40
BAND_HEIGHT = BOX_HEIGHT + 2 * GAP
MARGIN = 20
LINE_CHARS = 26  # of a name, per line in a box (two lines at most)


def _lines(name: str) -> list[str]:
    """The name in at most two lines of LINE_CHARS, broken at spaces where it can be, the rest
    cut with an ellipsis (the full name is the box's tooltip)."""
    words, lines, current = name.split(" "), [], ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= LINE_CHARS:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while len(current) > LINE_CHARS:
            lines.append(current[:LINE_CHARS])
            current = current[LINE_CHARS:]
    if current:
        lines.append(current)
    if len(lines) > 2:
        lines = [lines[0], lines[1][: LINE_CHARS - 1] + "…"]
    return lines or [""]


def _score_text(node: Node) -> str:
    score = "–" if node.score is None else f"{node.score:.1f}"
    return f"{score} · {_STATUS_WORDS[node.status]}"


def _clip(cx: float, cy: float, dx: float, dy: float) -> tuple[float, float]:
    """Where the ray from a box's centre (cx, cy) in direction (dx, dy) leaves the box."""
    half_w, half_h = BOX_WIDTH / 2, BOX_HEIGHT / 2
    t = min(
        half_w / abs(dx) if dx else math.inf,
        half_h / abs(dy) if dy else math.inf,
    )
    return cx + dx * t, cy + dy * t


_EDGE = 'class="edge" fill="none" stroke="#37474f" stroke-width="2" marker-end="url(#arrow)"'


def _edge(cause: tuple[float, float], effect: tuple[float, float]) -> str:
    """An arrow between two boxes' borders: straight, but bent below the band between boxes
    of one band that are not neighbours (a straight one would run under the boxes between)."""
    (x1, y1), (x2, y2) = cause, effect
    dx, dy = x2 - x1, y2 - y1
    if dy == 0 and abs(dx) > BOX_WIDTH + GAP:
        bottom = y1 + BOX_HEIGHT / 2
        return (
            f'<path d="M {x1:.1f} {bottom:.1f} Q {x1 + dx / 2:.1f} {bottom + 1.6 * GAP:.1f} '
            f'{x2:.1f} {bottom:.1f}" {_EDGE}/>'
        )
    sx, sy = _clip(x1, y1, dx, dy)
    ex, ey = _clip(x2, y2, -dx, -dy)
    return f'<path d="M {sx:.1f} {sy:.1f} L {ex:.1f} {ey:.1f}" {_EDGE}/>'


def render_svg(strategy: StrategyMap) -> str:
    title = f"Strategy map: {strategy.scorecard_name}"
    as_of = strategy.as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    columns = max((len(band.nodes) for band in strategy.bands), default=0)
    width = 2 * MARGIN + LABEL_WIDTH + max(columns, 1) * (BOX_WIDTH + GAP) + GAP
    # Wide enough for the title line too (about 10 px a character at 18 px bold, 7 at 13 px).
    width = max(width, 2 * MARGIN + 10 * len(title) + 7 * len(f" (as of {as_of})"))
    height = 2 * MARGIN + 30 + len(strategy.bands) * BAND_HEIGHT
    centres: dict[uuid.UUID, tuple[float, float]] = {}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        'role="img">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#37474f"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 18}" font-size="18" font-weight="bold" '
        f'fill="#263238">{escape(title)}<tspan font-size="13" font-weight="normal" '
        f'fill="#546e7a"> (as of {escape(as_of)})</tspan></text>',
    ]
    boxes: list[str] = []
    for row, band in enumerate(strategy.bands):
        top = MARGIN + 30 + row * BAND_HEIGHT
        shade = "#f5f7f8" if row % 2 == 0 else "#e9eef0"
        parts.append(
            f'<rect x="{MARGIN}" y="{top}" width="{width - 2 * MARGIN}" '
            f'height="{BAND_HEIGHT}" fill="{shade}" stroke="#cfd8dc"/>'
        )
        parts.append(
            f'<text x="{MARGIN + 12}" y="{top + BAND_HEIGHT / 2 + 5}" font-size="14" '
            f'font-weight="bold" fill="#37474f">{escape(band.name)}</text>'
        )
        for column, node in enumerate(band.nodes):
            left = MARGIN + LABEL_WIDTH + GAP + column * (BOX_WIDTH + GAP)
            box_top = top + GAP
            centres[node.objective_id] = (left + BOX_WIDTH / 2, box_top + BOX_HEIGHT / 2)
            fill, stroke = _COLOURS[node.status]
            lines = _lines(node.name)
            text_top = box_top + (28 if len(lines) == 1 else 22)
            texts = "".join(
                f'<text x="{left + BOX_WIDTH / 2}" y="{text_top + 17 * i}" font-size="13" '
                f'text-anchor="middle" fill="#212121">{escape(line)}</text>'
                for i, line in enumerate(lines)
            )
            boxes.append(
                f"<g class={quoteattr('objective ' + node.status)}>"
                f"<title>{escape(node.name)}</title>"
                f'<rect x="{left}" y="{box_top}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" '
                f'rx="12" ry="12" fill="{fill}" stroke="{stroke}" stroke-width="2"/>'
                f"{texts}"
                f'<text x="{left + BOX_WIDTH / 2}" y="{box_top + BOX_HEIGHT - 12}" '
                f'font-size="13" font-weight="bold" text-anchor="middle" fill="{stroke}">'
                f"{escape(_score_text(node))}</text></g>"
            )
    for cause, effect in strategy.edges:
        parts.append(_edge(centres[cause], centres[effect]))
    parts.extend(boxes)
    parts.append("</svg>")
    return "".join(parts)

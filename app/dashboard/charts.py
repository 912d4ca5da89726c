"""Score history as inline SVG line charts, drawn on the server: the dashboard needs no
script and no asset from anywhere. Each chart names its points in its `aria-label` too, so a
screen reader hears what the line shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from app.dashboard.badges import COLOURS, score_text
from app.scoring import Status


@dataclass(frozen=True, slots=True)
class ChartPoint:
    label: str  # the period, e.g. "Mar 2026"
    score: float | None
    status: Status


def history_chart(
    title: str,
    points: Sequence[ChartPoint],
    *,
    top: float,
    bands: tuple[float, float],
    width: int = 320,
    height: int = 80,
    axis: bool = False,
) -> Markup:
    """A line of the scores (gaps where a period has none), a dot per period in its status
    colour, and dashed lines at the green and amber thresholds (`bands`); y from 0 to `top`.
    With `axis`, each period's label under its dot."""
    pad_x, pad_y = (24, 8) if axis else (6, 6)
    below = 16 if axis else 0
    inner_w, inner_h = width - 2 * pad_x, height - 2 * pad_y - below
    step = inner_w / max(len(points) - 1, 1)

    def y(score: float) -> float:
        return pad_y + inner_h * (1 - min(max(score, 0.0), top) / top)

    spoken = "; ".join(f"{p.label}: {score_text(p.score, p.status)}" for p in points)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}. {escape(spoken)}">'
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height - below}" fill="#fafafa" '
        'stroke="#ddd"/>',
    ]
    for threshold, colour in zip(
        bands, (COLOURS[Status.green], COLOURS[Status.amber]), strict=True
    ):
        parts.append(
            f'<line x1="{pad_x}" x2="{width - pad_x}" y1="{y(threshold):.1f}" '
            f'y2="{y(threshold):.1f}" stroke="{colour}" stroke-dasharray="3 3" stroke-width="1"/>'
        )
    segment: list[str] = []
    segments: list[list[str]] = [segment]
    for i, point in enumerate(points):
        if point.score is None:
            segment = []
            segments.append(segment)
            continue
        segment.append(f"{pad_x + i * step:.1f},{y(point.score):.1f}")
    for line in segments:
        if len(line) > 1:
            parts.append(
                f'<polyline points="{" ".join(line)}" fill="none" stroke="#333" '
                'stroke-width="1.5"/>'
            )
    for i, point in enumerate(points):
        if point.score is not None:
            parts.append(
                f'<circle cx="{pad_x + i * step:.1f}" cy="{y(point.score):.1f}" r="3" '
                f'fill="{COLOURS[point.status]}"><title>{escape(point.label)}: '
                f"{escape(score_text(point.score, point.status))}</title></circle>"
            )
    if axis:
        for i, point in enumerate(points):
            parts.append(
                f'<text x="{pad_x + i * step:.1f}" y="{height - 4}" text-anchor="middle" '
                f'font-size="11" font-family="sans-serif" fill="#555">{escape(point.label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it is escaped above)

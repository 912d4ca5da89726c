"""Shields-style SVG badges: "Academy 2026 | 82 amber", the right half in the status colour.

An SVG served as an image cannot measure its own text, so each text's width is computed here
from a table of character widths, as shields.io does: Verdana at 11 px (advance widths in
font units of 2048 per em). Characters outside the table count as wide ones (CJK and emoji
are about 1 em), so a badge may have room to spare but never clips its text."""

from __future__ import annotations

import math
from html import escape

from app.scoring import Status

FONT_SIZE = 11
PADDING = 5  # each side of each half
MAX_LABEL = 60  # characters of a name shown; a longer one ends in "…"

_UNITS = 2048
# Verdana's advance widths (font units).
_WIDTHS: dict[str, int] = {
    " ": 720, "!": 807, '"': 940, "#": 1716, "$": 1302, "%": 2200, "&": 1495, "'": 550,
    "(": 930, ")": 930, "*": 1302, "+": 1716, ",": 745, "-": 862, ".": 745, "/": 1067,
    ":": 807, ";": 807, "<": 1716, "=": 1716, ">": 1716, "?": 1117, "@": 2048, "[": 930,
    "\\": 1067, "]": 930, "^": 1716, "_": 1302, "`": 1302, "{": 1302, "|": 930, "}": 1302,
    "~": 1716, "…": 2048, "–": 1302, "—": 2048, "’": 550, "‘": 550,
    "A": 1401, "B": 1405, "C": 1430, "D": 1577, "E": 1294, "F": 1178, "G": 1587, "H": 1540,
    "I": 862, "J": 917, "K": 1415, "L": 1165, "M": 1729, "N": 1533, "O": 1614, "P": 1243,
    "Q": 1614, "R": 1432, "S": 1403, "T": 1255, "U": 1510, "V": 1401, "W": 2025, "X": 1405,
    "Y": 1252, "Z": 1405,
    "a": 1229, "b": 1276, "c": 1067, "d": 1276, "e": 1220, "f": 720, "g": 1276, "h": 1296,
    "i": 562, "j": 668, "k": 1207, "l": 562, "m": 1992, "n": 1296, "o": 1243, "p": 1276,
    "q": 1276, "r": 874, "s": 1067, "t": 807, "u": 1296, "v": 1207, "w": 1678, "x": 1207,
    "y": 1207, "z": 1058,
}  # fmt: skip
_DIGIT = 1302
_WIDE = 2048

# Status colours, each dark enough for white text (contrast ≥ 4.5:1).
COLOURS = {
    Status.green: "#2e7d32",
    Status.amber: "#a14f00",
    Status.red: "#c62828",
    Status.no_data: "#616161",
}
LABEL_COLOUR = "#444"


def status_word(status: Status) -> str:
    return "no data" if status is Status.no_data else status.value


def score_text(score: float | None, status: Status) -> str:
    """`82 amber`; `no data` without a score."""
    if score is None:
        return status_word(status)
    return f"{math.floor(score + 0.5)} {status_word(status)}"


def text_width(text: str) -> float:
    """The width of `text` in pixels, in Verdana 11 px."""
    units = sum(
        _DIGIT if char.isdigit() and char.isascii() else _WIDTHS.get(char, _WIDE) for char in text
    )
    return units * FONT_SIZE / _UNITS


def shorten(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def badge_svg(label: str, score: float | None, status: Status) -> str:
    label = shorten(" ".join(label.split()))  # one line: newlines and tabs as spaces
    value = score_text(score, status)
    left = math.ceil(text_width(label)) + 2 * PADDING
    right = math.ceil(text_width(value)) + 2 * PADDING
    width = left + right
    title = escape(f"{label}: {value}")
    label, value = escape(label), escape(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{COLOURS[status]}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:g}" y="15" fill="#010101" fill-opacity=".3">{label}</text>'
        f'<text x="{left / 2:g}" y="14">{label}</text>'
        f'<text x="{left + right / 2:g}" y="15" fill="#010101" fill-opacity=".3">{value}</text>'
        f'<text x="{left + right / 2:g}" y="14">{value}</text></g></svg>'
    )

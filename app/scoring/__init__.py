"""The pure scoring engine: definitions and reading statistics in, scores out (docs/scoring.md).

No database, no HTTP, no clock: every instant is passed in.
"""

from app.scoring.commentary import (
    CommentaryKey,
    Notes,
    commentary_keys,
    history_with_commentary,
    measure_with_commentary,
    with_commentary,
)
from app.scoring.engine import (
    PeriodSelector,
    evaluate_measure,
    evaluate_scorecard,
    measure_windows,
    scorecard_windows,
)
from app.scoring.evaluation import EvaluationPoint, thresholds_in_effect
from app.scoring.formula import Formula, FormulaError, evaluation_order, parse_formula
from app.scoring.history import (
    evaluate_measure_history,
    evaluate_scorecard_history,
    measure_history_points,
    measure_history_windows,
    scorecard_history_points,
    scorecard_history_windows,
)
from app.scoring.model import (
    CLOSED_INITIATIVE_STATUSES,
    Aggregation,
    Direction,
    InitiativeDefinition,
    InitiativeStatus,
    MeasureDefinition,
    ObjectiveDefinition,
    PerspectiveDefinition,
    ScorecardDefinition,
    Status,
    TargetStep,
    Thresholds,
)
from app.scoring.periods import (
    Cadence,
    Period,
    period_containing,
    periods_between,
    previous_period,
)
from app.scoring.results import (
    Commentary,
    InitiativeRef,
    MeasureHistoryEntry,
    MeasureScore,
    ObjectiveScore,
    PerspectiveScore,
    ScorecardHistoryEntry,
    ScorecardScore,
    Trend,
)
from app.scoring.windows import Reading, Window, WindowStats, summarize

__all__ = [
    "CLOSED_INITIATIVE_STATUSES",
    "Aggregation",
    "Cadence",
    "Commentary",
    "CommentaryKey",
    "Direction",
    "EvaluationPoint",
    "Formula",
    "FormulaError",
    "InitiativeDefinition",
    "InitiativeRef",
    "InitiativeStatus",
    "MeasureDefinition",
    "MeasureHistoryEntry",
    "MeasureScore",
    "Notes",
    "ObjectiveDefinition",
    "ObjectiveScore",
    "Period",
    "PeriodSelector",
    "PerspectiveDefinition",
    "PerspectiveScore",
    "Reading",
    "ScorecardDefinition",
    "ScorecardHistoryEntry",
    "ScorecardScore",
    "Status",
    "TargetStep",
    "Thresholds",
    "Trend",
    "Window",
    "WindowStats",
    "commentary_keys",
    "evaluate_measure",
    "evaluate_measure_history",
    "evaluate_scorecard",
    "evaluate_scorecard_history",
    "evaluation_order",
    "history_with_commentary",
    "measure_history_points",
    "measure_history_windows",
    "measure_windows",
    "measure_with_commentary",
    "parse_formula",
    "period_containing",
    "periods_between",
    "previous_period",
    "scorecard_history_points",
    "scorecard_history_windows",
    "scorecard_windows",
    "summarize",
    "thresholds_in_effect",
    "with_commentary",
]

"""Scores that mean something: calibrated relevance, "no good match", duplicate thresholds.

``calibration`` fits what unrelated queries score in a namespace; ``calibrations``
makes and stores those fits; ``judgement`` applies them to a search's results;
``duplicate_threshold`` measures where a model's near duplicates begin.
docs/relevance.md explains the method and its measured error rates.
"""

from .calibration import NOTE_KEY, Calibration, NullDistribution, QueryKind
from .calibrations import Calibrations, calibrate
from .judgement import GOOD_MATCH_RELEVANCE, Judgement, judge_matches

__all__ = [
    "GOOD_MATCH_RELEVANCE",
    "NOTE_KEY",
    "Calibration",
    "Calibrations",
    "Judgement",
    "NullDistribution",
    "QueryKind",
    "calibrate",
    "judge_matches",
]

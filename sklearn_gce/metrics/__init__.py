"""Calibration metrics for probabilistic classifiers (numpy only, no torch)."""

from sklearn_gce.metrics._calibration_error import (
    classwise_calibration_error,
    expected_calibration_error,
)
from sklearn_gce.metrics._reliability import ReliabilityDisplay
from sklearn_gce.metrics._scorer import (
    make_calibration_scorer,
    neg_expected_calibration_error_scorer,
)

__all__ = [
    "ReliabilityDisplay",
    "classwise_calibration_error",
    "expected_calibration_error",
    "make_calibration_scorer",
    "neg_expected_calibration_error_scorer",
]

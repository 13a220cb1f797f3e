"""Calibration metrics for probabilistic classifiers (numpy only, no torch)."""

from sklearn_gce.metrics._calibration_error import (
    classwise_calibration_error,
    expected_calibration_error,
)

__all__ = ["classwise_calibration_error", "expected_calibration_error"]

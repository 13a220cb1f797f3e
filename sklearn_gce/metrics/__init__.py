"""Calibration metrics for probabilistic classifiers (numpy only, no torch)."""

from sklearn_gce.metrics._calibration_error import expected_calibration_error

__all__ = ["expected_calibration_error"]

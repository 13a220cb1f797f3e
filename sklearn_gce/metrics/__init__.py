"""Calibration metrics, scorers and a reliability diagram (numpy; no torch).

- :func:`expected_calibration_error` (top-label ECE, AdaECE, RMSCE, MCE) and
  :func:`classwise_calibration_error`; bins are ``[e_b, e_{b+1})``, the last
  one closed at 1. :func:`smooth_calibration_error`, without bins.
- Uncertainty: :func:`bootstrap_calibration_error` and
  :func:`bootstrap_calibration_error_difference` (paired) give confidence
  intervals; :func:`calibration_test` tests calibration itself.
- :data:`neg_expected_calibration_error_scorer` and
  :func:`make_calibration_scorer`, for ``scoring=`` in model selection.
- :class:`ReliabilityDisplay`, a top-label reliability diagram (matplotlib is
  imported only when plotting).
"""

from sklearn_gce.metrics._bootstrap import (
    CalibrationBootstrapResult,
    ConfidenceInterval,
    bootstrap_calibration_error,
    bootstrap_calibration_error_difference,
)
from sklearn_gce.metrics._calibration_error import (
    classwise_calibration_error,
    expected_calibration_error,
)
from sklearn_gce.metrics._calibration_test import (
    CalibrationTestResult,
    calibration_test,
)
from sklearn_gce.metrics._reliability import ReliabilityDisplay
from sklearn_gce.metrics._scorer import (
    make_calibration_scorer,
    neg_expected_calibration_error_scorer,
)
from sklearn_gce.metrics._smooth import smooth_calibration_error

__all__ = [
    "CalibrationBootstrapResult",
    "CalibrationTestResult",
    "ConfidenceInterval",
    "ReliabilityDisplay",
    "bootstrap_calibration_error",
    "bootstrap_calibration_error_difference",
    "calibration_test",
    "classwise_calibration_error",
    "expected_calibration_error",
    "make_calibration_scorer",
    "neg_expected_calibration_error_scorer",
    "smooth_calibration_error",
]

"""Calibration metrics, scorers and a reliability diagram (numpy; no torch).

- :func:`expected_calibration_error` (top-label ECE, AdaECE, RMSCE, MCE) and
  :func:`classwise_calibration_error`; bins are ``[e_b, e_{b+1})``, the last
  one closed at 1.
- :data:`neg_expected_calibration_error_scorer` and
  :func:`make_calibration_scorer`, for ``scoring=`` in model selection.
- :class:`ReliabilityDisplay`, a top-label reliability diagram (matplotlib is
  imported only when plotting).
"""

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

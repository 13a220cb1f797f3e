"""The one place where private scikit-learn helpers are imported.

scikit-learn moves private helpers between releases (``_validate_data`` moved
in 1.6); keeping every such import here means one file to fix when it does.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)

__all__ = [
    "Interval",
    "Options",
    "StrOptions",
    "_fit_context",
    "validate_parameter_constraints",
    "validate_params",
]

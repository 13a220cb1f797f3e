"""The one place where private scikit-learn helpers are imported.

scikit-learn moves private helpers between releases (``_validate_data`` moved
in 1.6); keeping every such import here means one file to fix when it does.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    validate_params,
)

__all__ = ["Interval", "Options", "StrOptions", "_fit_context", "validate_params"]

# scikit-learn's scorer base class: sklearn_gce.metrics subclasses it so that its
# calibration scorers map predict_proba columns through estimator.classes_.
from sklearn.metrics._scorer import _BaseScorer  # noqa: E402

__all__ += ["_BaseScorer"]

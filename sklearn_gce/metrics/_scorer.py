"""Calibration errors as scikit-learn scorers."""

from numbers import Integral

from sklearn_gce._compat import Interval, StrOptions, _BaseScorer, validate_params
from sklearn_gce.metrics._calibration_error import (
    classwise_calibration_error,
    expected_calibration_error,
)

_METRICS = {
    "expected": expected_calibration_error,
    "classwise": classwise_calibration_error,
}


class _CalibrationScorer(_BaseScorer):
    """Minus a calibration error of ``predict_proba`` read through ``classes_``.

    scikit-learn's ``make_scorer(..., response_method="predict_proba")`` hands
    the metric one column for binary problems and never the estimator's
    ``classes_``, which breaks when a test fold lacks a class or labels are
    strings; this scorer passes the whole matrix and ``labels=classes_``.
    """

    def __init__(self, metric, kwargs):
        super().__init__(
            score_func=_METRICS[metric],
            sign=-1,
            kwargs=kwargs,
            response_method="predict_proba",
        )
        self._metric = metric

    def _score(self, method_caller, estimator, X, y_true, **kwargs):
        if "labels" in kwargs:
            raise ValueError(
                "A calibration scorer takes the labels from estimator.classes_; "
                "do not pass labels."
            )
        # Not method_caller: its cache may hold a single binary column for a
        # pos_label that another scorer chose.
        y_prob = estimator.predict_proba(X)
        return self._sign * self._score_func(
            y_true, y_prob, labels=estimator.classes_, **self._kwargs, **kwargs
        )

    def __repr__(self):
        arguments = ", ".join(
            f"{name}={value!r}"
            for name, value in {"metric": self._metric, **self._kwargs}.items()
        )
        return f"make_calibration_scorer({arguments})"


@validate_params(
    {
        "metric": [StrOptions(set(_METRICS))],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"uniform", "quantile"})],
        "norm": [StrOptions({"l1", "l2", "max"})],
    },
    prefer_skip_nested_validation=True,
)
def make_calibration_scorer(
    *, metric="expected", n_bins=15, strategy="uniform", norm="l1"
):
    """Make a scorer from a calibration error, for scikit-learn model selection.

    The scorer calls the estimator's ``predict_proba`` and returns **minus**
    the calibration error (greater is better, as scikit-learn's ``neg_*``
    scorers), with the columns of ``predict_proba`` mapped to classes through
    ``estimator.classes_``. It is therefore correct when a test fold lacks
    some classes, for string labels, for binary problems, for pipelines and
    for any classifier with ``predict_proba``. Sample weights, when given to
    the scorer (or routed to it by metadata routing), are passed on to the
    metric.

    Parameters
    ----------
    metric : {"expected", "classwise"}, default="expected"
        :func:`~sklearn_gce.metrics.expected_calibration_error` (top-label)
        or :func:`~sklearn_gce.metrics.classwise_calibration_error`.

    n_bins : int, default=15
        Number of bins.

    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width or equal-mass bins.

    norm : {"l1", "l2", "max"}, default="l1"
        Norm of the binned error.

    Returns
    -------
    scorer : callable
        A scorer object, ``scorer(estimator, X, y_true, sample_weight=None)``,
        usable as ``scoring=`` in :func:`~sklearn.model_selection.cross_validate`,
        :class:`~sklearn.model_selection.GridSearchCV` and the like, alone or
        in a dict of scorers. It pickles, and its ``repr`` shows its parameters.

    See Also
    --------
    neg_expected_calibration_error_scorer : The scorer with default parameters.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn_gce.metrics import make_calibration_scorer
    >>> scorer = make_calibration_scorer(n_bins=10)
    >>> scorer
    make_calibration_scorer(metric='expected', n_bins=10, strategy='uniform', norm='l1')
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=1000)
    >>> scores = cross_val_score(model, X, y, scoring=scorer)
    >>> bool(all(-1 <= s <= 0 for s in scores))
    True
    """
    kwargs = {"n_bins": n_bins, "strategy": strategy, "norm": norm}
    return _CalibrationScorer(metric, kwargs)


neg_expected_calibration_error_scorer = make_calibration_scorer()
neg_expected_calibration_error_scorer.__doc__ = """\
Scorer of minus the top-label ECE (15 uniform bins, l1) of ``predict_proba``.

Use it as ``scoring=neg_expected_calibration_error_scorer``; see
:func:`make_calibration_scorer` for other parameters.
"""

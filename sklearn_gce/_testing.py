"""Synthetic data shared by the tests and the benchmarks (not public API)."""

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state


def make_tempered_logits(
    n_samples, n_classes, temperature=1.0, *, scale=3.0, random_state=None
):
    """Logits whose true calibration map is a (confidence-dependent) temperature.

    Draw ``z ~ scale * N(0, I)`` and then ``y ~ softmax(z / T(c(z)))``, where
    ``c(z) = max softmax(z)`` is the uncalibrated confidence. The best possible
    calibration of ``z`` is therefore ``softmax(z / T(c(z)))``.

    Parameters
    ----------
    n_samples, n_classes : int
    temperature : float or callable, default=1.0
        The true temperature, or a function from an array of confidences to
        an array of temperatures.
    scale : float, default=3.0
        Spread of the logits (larger: more confident).
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    logits : ndarray of shape (n_samples, n_classes)
    y : ndarray of shape (n_samples,)
        Integer labels in ``[0, n_classes)``.
    """
    rng = check_random_state(random_state)
    logits = scale * rng.standard_normal((n_samples, n_classes))
    confidence = softmax(logits, axis=1).max(axis=1)
    if callable(temperature):
        temperature = np.asarray(temperature(confidence), dtype=np.float64)
    temperature = np.broadcast_to(temperature, (n_samples,))
    proba = softmax(logits / temperature[:, None], axis=1)
    cumulative = np.cumsum(proba, axis=1)
    cumulative[:, -1] = 1.0  # rounding must not leave a draw above every class
    y = (rng.uniform(size=(n_samples, 1)) < cumulative).argmax(axis=1)
    return logits, y


class LogitModel(ClassifierMixin, BaseEstimator):
    """A 'model' whose decision function is its input: the logits themselves.

    Wrapped in ``FrozenEstimator``, it lets ``ATSCalibrator`` and
    ``CalibratedClassifierCV`` calibrate logits made by
    :func:`make_tempered_logits`.
    """

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X):
        return np.asarray(X)

    def predict(self, X):
        return self.classes_[np.argmax(X, axis=1)]


# --- coverage of the bootstrap intervals (tests/test_uncertainty.py and
# benchmarks/bench_interval_coverage.py) ---


# (metric, options) of the coverage simulations
COVERAGE_SETTINGS = [
    ("expected", {}),
    ("expected", {"strategy": "quantile"}),
    ("expected", {"norm": "l2"}),
    ("expected", {"norm": "max"}),
    ("classwise", {}),
    ("classwise", {"norm": "max"}),
    ("smooth", {}),
]


def tempered_problem(seed, n_samples, temperature, n_classes=4):
    """Labels and predictions ``softmax(z)`` whose labels are drawn from
    ``softmax(z / temperature)``: calibrated at temperature 1, overconfident
    below."""
    from scipy.special import softmax

    logits, y_true = make_tempered_logits(
        n_samples, n_classes, temperature, scale=2.0, random_state=seed
    )
    return y_true, softmax(logits, axis=1)


def calibration_error(metric, y_true, y_prob, **options):
    """The ``metric`` ("expected", "classwise" or "smooth") of the predictions."""
    from sklearn_gce import metrics

    function = {
        "expected": metrics.expected_calibration_error,
        "classwise": metrics.classwise_calibration_error,
        "smooth": metrics.smooth_calibration_error,
    }[metric]
    return function(y_true, y_prob, **options)


def expected_error_at_size(
    metric, n_samples, temperature, n_repeats, seed=0, **options
):
    """Mean and standard deviation of the error over fresh test sets of
    ``n_samples``: what the bootstrap interval is meant to cover."""
    values = [
        calibration_error(
            metric, *tempered_problem(seed + i, n_samples, temperature), **options
        )
        for i in range(n_repeats)
    ]
    return np.mean(values), np.std(values)


def interval_coverage(
    metric, n_samples, temperature, n_replications, target, n_resamples=200, **options
):
    """Share of ``n_replications`` test sets whose bootstrap interval covers
    ``target``, and the median width of the intervals."""
    from sklearn_gce.metrics import bootstrap_calibration_error

    hits, widths = 0, []
    for i in range(n_replications):
        y_true, y_prob = tempered_problem(10_000 + i, n_samples, temperature)
        result = bootstrap_calibration_error(
            y_true,
            y_prob,
            metric=metric,
            n_resamples=n_resamples,
            random_state=i,
            **options,
        )
        low, high = result.confidence_interval
        hits += low <= target <= high
        widths.append(high - low)
    return hits / n_replications, float(np.median(widths))

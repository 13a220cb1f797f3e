"""Bootstrap confidence intervals of calibration errors and of their differences."""

import warnings
from dataclasses import dataclass
from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy import stats

from sklearn_gce._compat import Interval, StrOptions, validate_params
from sklearn_gce.metrics._resampling import (
    BATCH_ELEMENTS,
    PARAMETER_CONSTRAINTS,
    batch_size,
    check_generator,
    prepare_statistic,
)

METHODS = {"normal", "percentile", "basic", "BCa"}


class ConfidenceInterval(NamedTuple):
    """Lower and upper bounds of a confidence interval."""

    low: float
    high: float


@dataclass(frozen=True)
class CalibrationBootstrapResult:
    """A calibration error (or a difference of two) with its bootstrap uncertainty.

    Attributes
    ----------
    estimate : float
        The error computed on the data (for a difference, the first model's
        error minus the second's).

    confidence_interval : ConfidenceInterval
        ``(low, high)``, clipped to the range of the estimate: [0, 1] for an
        error, [-1, 1] for a difference.

    standard_error : float
        The standard deviation of the bootstrap distribution.

    bootstrap_distribution : ndarray of shape (n_resamples,)
        The estimate recomputed on each resample.

    confidence_level : float
        The confidence level of the interval.

    method : str
        How the interval was formed from the bootstrap distribution.
    """

    estimate: float
    confidence_interval: ConfidenceInterval
    standard_error: float
    bootstrap_distribution: np.ndarray
    confidence_level: float
    method: str


_PARAMETER_CONSTRAINTS = {
    **PARAMETER_CONSTRAINTS,
    "confidence_level": [Interval(Real, 0, 1, closed="neither")],
    "method": [StrOptions(METHODS)],
}


def _bootstrap(statistic, estimate, sample_weight, batch, bounds, options):
    """Resample the sample indices with scipy and form the result.

    ``statistic(multiplicities)`` evaluates the estimate on rows of sample
    multiplicities, shape (n_rows, n_samples); resampling the indices once
    for all the models compared is what pairs them (as ``paired=True`` does
    in :func:`scipy.stats.bootstrap`). Samples of zero weight count for
    nothing, so only those of positive weight are resampled (and no resample
    is left without weight).
    """
    confidence_level, method = options["confidence_level"], options["method"]
    n_samples = sample_weight.size

    def resampled(indices, axis=-1):
        rows = np.atleast_2d(indices)
        keys = rows + n_samples * np.arange(rows.shape[0])[:, None]
        counts = np.bincount(keys.ravel(), minlength=rows.shape[0] * n_samples)
        values = statistic(counts.reshape(rows.shape[0], n_samples).astype(float))
        return values[0] if np.ndim(indices) == 1 else values

    common = {
        "n_resamples": options["n_resamples"],
        "confidence_level": confidence_level,
        "vectorized": True,
        "batch": batch,
        "rng": check_generator(options["random_state"]),
    }
    data = (np.flatnonzero(sample_weight > 0),)
    if data[0].size < 2:
        raise ValueError(
            "A bootstrap needs at least 2 samples of positive weight; got "
            f"{data[0].size}."
        )
    result = stats.bootstrap(data, resampled, method="percentile", **common)
    distribution = result.bootstrap_distribution
    standard_error = float(result.standard_error)
    if np.ptp(distribution) == 0:  # every resample gives the same value
        low = high = estimate
    elif method == "normal":
        half_width = stats.norm.ppf((1 + confidence_level) / 2) * standard_error
        low, high = estimate - half_width, estimate + half_width
    else:
        if method != "percentile":  # the same resamples, another interval
            common["n_resamples"] = 0
            with (
                np.errstate(invalid="ignore", divide="ignore"),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore", stats.DegenerateDataWarning)
                result = stats.bootstrap(
                    data, resampled, method=method, bootstrap_result=result, **common
                )
        low, high = result.confidence_interval
        if np.isnan(low) or np.isnan(high):
            raise ValueError(
                "The BCa interval cannot be computed: the estimate lies outside "
                "the bootstrap distribution (the bias of the binned error "
                "dominates its noise). Use method='normal' or 'basic'."
            )
    return CalibrationBootstrapResult(
        estimate=estimate,
        confidence_interval=ConfidenceInterval(
            *(float(np.clip(bound, *bounds)) for bound in (low, high))
        ),
        standard_error=standard_error,
        bootstrap_distribution=distribution,
        confidence_level=float(confidence_level),
        method=method,
    )


def bin_accuracy_interval(
    bin_ids, hits, sample_weight, n_bins, confidence_level, n_resamples, random_state
):
    """Percentile bootstrap interval of each bin's accuracy (private helper).

    The samples of each non-empty bin are resampled with their weights, so
    the interval is that of the bin's fraction of hits given how many samples
    it holds. Returns an array of shape (2, n_bins): the lower and upper
    bounds, NaN for empty bins; a bin whose hits are all equal (or that
    holds one sample) gets a zero-width interval.
    """
    weight = np.ones(bin_ids.size) if sample_weight is None else sample_weight
    rng = check_generator(random_state)
    interval = np.full((2, n_bins), np.nan)

    def accuracy(hits, weight, axis=-1):
        return np.sum(hits * weight, axis=axis) / np.sum(weight, axis=axis)

    for b in np.unique(bin_ids[weight > 0]):
        members = (bin_ids == b) & (weight > 0)
        data = (hits[members].astype(float), weight[members])
        if np.ptp(data[0]) == 0:  # every resample has the same accuracy
            interval[:, b] = data[0][0]
            continue
        result = stats.bootstrap(
            data,
            accuracy,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            confidence_level=confidence_level,
            method="percentile",
            batch=max(1, BATCH_ELEMENTS // data[0].size),
            rng=rng,
        )
        interval[:, b] = result.confidence_interval
    return interval


_COMMON_PARAMETERS_DOC = """
    metric : {"expected", "classwise", "smooth"}, default="expected"
        :func:`expected_calibration_error` (top label),
        :func:`classwise_calibration_error` or
        :func:`smooth_calibration_error` (whose bandwidth is chosen again on
        each resample).

    n_bins : int, default=15
        Number of bins of the binned errors (unused by ``"smooth"``).

    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width or equal-mass bins (unused by ``"smooth"``). Quantile
        edges are recomputed on each resample, one resample at a time; uniform
        bins are evaluated for many resamples at once.

    norm : {"l1", "l2", "max"}, default="l1"
        Norm of the binned errors (unused by ``"smooth"``).

    labels : array-like of shape (n_classes,), default=None
        The class of each column of the probabilities, such as
        ``estimator.classes_``. If None, the sorted unique values of
        ``y_true``.

    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights; a resample draws samples with their weights.

    confidence_level : float, default=0.95
        Confidence level of the interval, in (0, 1).

    n_resamples : int, default=1000
        Number of bootstrap resamples, at least 2. A thousand estimate the
        standard error within about 2%; the quantile-based methods need more
        for the tails (scipy's default is 9999).

    method : {"normal", "percentile", "basic", "BCa"}, default="normal"
        How the interval is formed. ``"normal"``: the estimate plus or minus
        the normal quantile times the bootstrap standard error.
        ``"percentile"``, ``"basic"`` and ``"BCa"``: as in
        :func:`scipy.stats.bootstrap` (``"BCa"`` adds a jackknife, n
        evaluations on n - 1 samples: quadratic in n).

    random_state : int, RandomState instance or None, default=None
        Seeds the resampling, for reproducible intervals.
"""

_COVERAGE_DOC = """
    **What the interval covers.** A binned error is biased upward on a finite
    sample, by about the noise of each bin's accuracy (``sqrt(n_bins / n)``
    for a calibrated model), and the bias does not vanish under the
    bootstrap. The default interval (``method="normal"``) covers the
    *expected* error at this sample size, the mean of the error over test
    sets of ``n`` samples from the same distribution: the quantity a test set
    of this size estimates, and what two models evaluated on test sets of the
    same size are compared on. In simulations
    (``benchmarks/bench_interval_coverage.py``, results in
    ``benchmarks/results/interval_coverage.md``: softmax models from
    calibrated to strongly overconfident, 300 and 2000 samples, 200 test sets
    each) the 95% interval covered it in 92% to 100% of the test sets for the
    l1 and l2 errors (both strategies), in 94% to 99% for the classwise error
    (also with ``norm="max"``); in 88% to 94% for the top-label error with
    ``norm="max"`` (the bootstrap understates the spread of a maximum), and
    for the smooth error in 90% to 100% (90% for moderately overconfident
    models, at both sizes). It does *not*
    cover the population error (the limit as ``n`` grows) when that error is
    smaller than the bias, for instance 0 for a calibrated model: no
    interval around a binned estimate does. ``method="basic"`` subtracts the
    bootstrap's estimate of the bias and covers the population error of
    clearly miscalibrated models, but not of nearly calibrated ones.
"""


def _interval_options(confidence_level, n_resamples, method, random_state):
    return {
        "confidence_level": confidence_level,
        "n_resamples": n_resamples,
        "method": method,
        "random_state": random_state,
    }


@validate_params(
    {"y_prob": ["array-like"], **_PARAMETER_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def bootstrap_calibration_error(
    y_true,
    y_prob,
    *,
    metric="expected",
    n_bins=15,
    strategy="uniform",
    norm="l1",
    labels=None,
    sample_weight=None,
    confidence_level=0.95,
    n_resamples=1000,
    method="normal",
    random_state=None,
):
    """A calibration error with its bootstrap confidence interval.

    The samples are resampled with replacement by
    :func:`scipy.stats.bootstrap` and the error is computed again on each
    resample (with the same bins, ``labels`` and options).
    {coverage}
    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.

    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, as in :func:`expected_calibration_error`.
    {parameters}
    Returns
    -------
    result : CalibrationBootstrapResult
        ``estimate`` (the error, equal to the metric's), ``confidence_interval``
        ``(low, high)``, ``standard_error``, ``bootstrap_distribution``,
        ``confidence_level`` and ``method``.

    Raises
    ------
    ValueError
        On the bad input of the metric, and on invalid interval options.

    See Also
    --------
    bootstrap_calibration_error_difference : The paired difference of two
        models' errors.
    calibration_test : Whether the probabilities could be calibrated.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_gce.metrics import bootstrap_calibration_error
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.5, 1.0, 2000)
    >>> y_true = (rng.random(2000) < p ** 2).astype(int)  # overconfident
    >>> result = bootstrap_calibration_error(y_true, p, random_state=0)
    >>> round(result.estimate, 3)
    0.158
    >>> [round(bound, 3) for bound in result.confidence_interval]
    [0.137, 0.178]
    """
    statistic = prepare_statistic(
        metric,
        y_true,
        y_prob,
        n_bins=n_bins,
        strategy=strategy,
        norm=norm,
        labels=labels,
        sample_weight=sample_weight,
    )
    return _bootstrap(
        statistic.reweighted,
        statistic.value(),
        statistic.sample_weight,
        batch_size(statistic, statistic.sample_weight.size),
        (0.0, 1.0),
        _interval_options(confidence_level, n_resamples, method, random_state),
    )


@validate_params(
    {"y_prob_a": ["array-like"], "y_prob_b": ["array-like"], **_PARAMETER_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def bootstrap_calibration_error_difference(
    y_true,
    y_prob_a,
    y_prob_b,
    *,
    metric="expected",
    n_bins=15,
    strategy="uniform",
    norm="l1",
    labels=None,
    sample_weight=None,
    confidence_level=0.95,
    n_resamples=1000,
    method="normal",
    random_state=None,
):
    """The difference of two models' calibration errors on the same samples.

    Both errors are computed on the same resamples (a paired bootstrap, as
    ``paired=True`` in :func:`scipy.stats.bootstrap`), so that what the two
    models share (the difficulty of the samples, the bias of binning) cancels
    and the interval is narrower than from two separate intervals. An
    interval that excludes 0 says which model is better calibrated on data
    like these.

    The interval covers the difference of the expected errors at this sample
    size (see :func:`bootstrap_calibration_error` for what that means).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.

    y_prob_a, y_prob_b : array-like of shape (n_samples, n_classes) or (n_samples,)
        The two models' predicted probabilities for the same samples, with
        columns in the order of ``labels``.
    {parameters}
    Returns
    -------
    result : CalibrationBootstrapResult
        ``estimate`` is the error of ``y_prob_a`` minus that of ``y_prob_b``
        (negative when model a is better calibrated); the interval is
        clipped to [-1, 1].

    Raises
    ------
    ValueError
        On the bad input of the metric (for either model), and on invalid
        interval options.

    See Also
    --------
    bootstrap_calibration_error : One model's error and its interval.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_gce.metrics import bootstrap_calibration_error_difference
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.5, 1.0, 2000)
    >>> y_true = (rng.random(2000) < p).astype(int)  # p is calibrated
    >>> overconfident = np.sqrt(p)
    >>> result = bootstrap_calibration_error_difference(
    ...     y_true, p, overconfident, random_state=0
    ... )
    >>> round(result.estimate, 3)
    -0.096
    >>> bool(result.confidence_interval.high < 0)
    True
    """
    statistics = [
        prepare_statistic(
            metric,
            y_true,
            y_prob,
            n_bins=n_bins,
            strategy=strategy,
            norm=norm,
            labels=labels,
            sample_weight=sample_weight,
        )
        for y_prob in (y_prob_a, y_prob_b)
    ]
    first, second = statistics
    n_samples = first.sample_weight.size
    return _bootstrap(
        lambda counts: first.reweighted(counts) - second.reweighted(counts),
        first.value() - second.value(),
        first.sample_weight,
        min(batch_size(statistic, n_samples) for statistic in statistics),
        (-1.0, 1.0),
        _interval_options(confidence_level, n_resamples, method, random_state),
    )


for _function in (bootstrap_calibration_error, bootstrap_calibration_error_difference):
    _function.__doc__ = _function.__doc__.format(
        parameters=_COMMON_PARAMETERS_DOC, coverage=_COVERAGE_DOC
    )

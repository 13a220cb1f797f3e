"""A test of the hypothesis that predicted probabilities are calibrated."""

from dataclasses import dataclass

import numpy as np
from scipy import stats

from sklearn_gce._compat import validate_params
from sklearn_gce.metrics._resampling import (
    PARAMETER_CONSTRAINTS,
    batch_size,
    check_generator,
    prepare_statistic,
)


@dataclass(frozen=True)
class CalibrationTestResult:
    """Result of :func:`calibration_test`.

    Attributes
    ----------
    statistic : float
        The calibration error of the observed labels.

    pvalue : float
        The probability, if the predictions were calibrated, of an error at
        least as large: ``(1 + k) / (1 + n_resamples)`` with ``k`` the number
        of consistent resamples whose error reaches the observed one.

    null_distribution : ndarray of shape (n_resamples,)
        The error of each set of labels drawn from the predictions.
    """

    statistic: float
    pvalue: float
    null_distribution: np.ndarray


@validate_params(
    {"y_prob": ["array-like"], **PARAMETER_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def calibration_test(
    y_true,
    y_prob,
    *,
    metric="expected",
    n_bins=15,
    strategy="uniform",
    norm="l1",
    labels=None,
    sample_weight=None,
    n_resamples=999,
    random_state=None,
):
    """Test the hypothesis that the predicted probabilities are calibrated.

    Consistency resampling (Broecker & Smith 2007): if the predictions were
    calibrated, the labels would be draws from the predicted probabilities.
    Labels are drawn so ``n_resamples`` times, the calibration error is
    computed for each draw with the same predictions, and the p-value is the
    fraction of draws whose error is at least the observed one (a one-sided
    Monte Carlo test through :func:`scipy.stats.monte_carlo_test`). Given the
    predictions, the observed and the drawn labels are then exchangeable, so
    the test is valid at any sample size: calibrated predictions are rejected
    at level alpha with probability at most alpha, and about alpha unless the
    error takes few distinct values (``norm="max"`` often ties, which makes
    the test conservative).

    For the top-label errors (``"expected"``, ``"smooth"``) each hit is drawn
    with the probability of the confidence; for ``"classwise"`` each label is
    drawn from the row's probabilities. The bins (and quantile edges) depend
    only on the predictions, so they are those of the observed data.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.

    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, as in :func:`expected_calibration_error`.

    metric : {"expected", "classwise", "smooth"}, default="expected"
        The calibration error used as test statistic:
        :func:`expected_calibration_error`,
        :func:`classwise_calibration_error` or
        :func:`smooth_calibration_error`.

    n_bins : int, default=15
        Number of bins of the binned errors (unused by ``"smooth"``).

    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width or equal-mass bins (unused by ``"smooth"``).

    norm : {"l1", "l2", "max"}, default="l1"
        Norm of the binned errors (unused by ``"smooth"``).

    labels : array-like of shape (n_classes,), default=None
        The class of each column of ``y_prob``, such as
        ``estimator.classes_``. If None, the sorted unique values of
        ``y_true``.

    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights of the error.

    n_resamples : int, default=999
        Number of label draws, at least 2; the smallest possible p-value is
        ``1 / (n_resamples + 1)``.

    random_state : int, RandomState instance or None, default=None
        Seeds the draws, for a reproducible p-value.

    Returns
    -------
    result : CalibrationTestResult
        ``statistic`` (the observed error), ``pvalue`` and
        ``null_distribution``.

    Raises
    ------
    ValueError
        On the bad input of the metric, and on invalid options.

    See Also
    --------
    bootstrap_calibration_error : The error with a confidence interval.

    References
    ----------
    Broecker, Smith, "Increasing the Reliability of Reliability Diagrams",
    Weather and Forecasting 22(3), 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_gce.metrics import calibration_test
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.5, 1.0, 1000)
    >>> calibrated = (rng.random(1000) < p).astype(int)
    >>> overconfident = (rng.random(1000) < p ** 2).astype(int)
    >>> round(calibration_test(calibrated, p, random_state=0).pvalue, 3)
    0.58
    >>> round(calibration_test(overconfident, p, random_state=0).pvalue, 3)
    0.001
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
    rng = check_generator(random_state)
    n_samples = statistic.sample_weight.size

    def error(labels, axis=-1):
        errors = statistic.relabelled(np.atleast_2d(labels))
        return errors[0] if np.ndim(labels) == 1 else errors

    result = stats.monte_carlo_test(
        statistic.observed,
        lambda size: statistic.draw(rng, size),
        error,
        vectorized=True,
        n_resamples=n_resamples,
        batch=batch_size(statistic, n_samples),
        alternative="greater",
    )
    return CalibrationTestResult(
        statistic=float(result.statistic),
        pvalue=float(result.pvalue),
        null_distribution=result.null_distribution,
    )

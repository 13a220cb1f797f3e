"""Binned calibration errors: top-label (ECE, AdaECE, RMSCE, MCE) and classwise.

Everything here is numpy. The scorers and the display use the same binning
(:mod:`sklearn_gce.metrics._binning`), so there is one bin-edge convention and
one calibration-error implementation.
"""

from numbers import Integral

from sklearn_gce._compat import Interval, StrOptions, validate_params
from sklearn_gce.metrics._binning import (
    binned_error,
    classwise_data,
    classwise_sums,
    top_label_bins,
)

_PARAMETER_CONSTRAINTS = {
    "y_true": ["array-like"],
    "y_prob": ["array-like"],
    "n_bins": [Interval(Integral, 1, None, closed="left")],
    "strategy": [StrOptions({"uniform", "quantile"})],
    "norm": [StrOptions({"l1", "l2", "max"})],
    "labels": ["array-like", None],
    "sample_weight": ["array-like", None],
}


@validate_params(_PARAMETER_CONSTRAINTS, prefer_skip_nested_validation=True)
def expected_calibration_error(
    y_true,
    y_prob,
    *,
    n_bins=15,
    strategy="uniform",
    norm="l1",
    labels=None,
    sample_weight=None,
):
    r"""Top-label expected calibration error (ECE) and its variants.

    Each sample's confidence is its largest predicted probability; it is a hit
    when the class of that column is the true class. Samples are binned by
    confidence, and the error compares, bin by bin, the fraction of hits
    (accuracy) with the mean confidence.

    With :math:`c_i = \max_k p_{ik}` the confidence, :math:`h_i = 1` if the
    class of column :math:`\arg\max_k p_{ik}` (the first one among ties) is
    :math:`y_i` and 0 otherwise, :math:`w_i` the sample weights (1 by default)
    and :math:`W = \sum_i w_i`:

    .. math::

        W_b = \sum_{i \in b} w_i, \quad
        \mathrm{acc}_b = \frac{1}{W_b} \sum_{i \in b} w_i h_i, \quad
        \mathrm{conf}_b = \frac{1}{W_b} \sum_{i \in b} w_i c_i

    .. math::

        \mathrm{ECE}_{l1} = \sum_b \frac{W_b}{W}
            \left|\mathrm{acc}_b - \mathrm{conf}_b\right|, \quad
        \mathrm{ECE}_{l2} = \sqrt{\sum_b \frac{W_b}{W}
            \left(\mathrm{acc}_b - \mathrm{conf}_b\right)^2}, \quad
        \mathrm{ECE}_{max} = \max_{b : W_b > 0}
            \left|\mathrm{acc}_b - \mathrm{conf}_b\right|

    **Bin-edge convention.** With edges
    :math:`0 = e_0 \le e_1 \le \dots \le e_B = 1`, bins are closed on the left
    and open on the right, except the last one, which also holds 1:

    .. math::

        \mathrm{bin}(c) = \#\{\, b \in \{1, \dots, B - 1\} : e_b \le c \,\}

    so a confidence exactly on an inner edge belongs to the bin above it, and a
    confidence of exactly 1 to the last bin. ``strategy="uniform"`` uses
    :math:`e_b = b / B` (as computed by ``numpy.linspace(0, 1, B + 1)``).
    ``strategy="quantile"`` (equal-mass bins, AdaECE) uses the weighted
    empirical distribution :math:`F(c) = \frac{1}{W} \sum_{i : c_i \le c} w_i`
    of the confidences and

    .. math::

        e_b = \min \{\, c_i : F(c_i) > b / B \,\}, \quad b = 1, \dots, B - 1,

    so each bin holds at most a fraction :math:`1/B` of the weight plus one
    tie group, and integer weights act exactly as repeated samples.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels (numbers or strings).

    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, as returned by ``predict_proba``; each row
        must sum to 1 within ``SUM_TOLERANCE`` (about 3.5e-4). A 1-D array
        (or a single column) is the probability of the positive class: the
        second of the two classes (of ``labels``, or of the sorted classes of
        ``y_true``), as in :func:`sklearn.metrics.log_loss`.

    n_bins : int, default=15
        Number of bins :math:`B`.

    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins, or equal-mass bins from the (weighted) quantiles of
        the confidences.

    norm : {"l1", "l2", "max"}, default="l1"
        ``"l1"``: the expected calibration error; ``"l2"``: the root mean
        square calibration error; ``"max"``: the maximum calibration error
        over non-empty bins.

    labels : array-like of shape (n_classes,), default=None
        The class of each column of ``y_prob``, in column order: pass
        ``estimator.classes_``. Needed when ``y_true`` lacks some classes.
        If None, the sorted unique values of ``y_true``, as in
        :func:`sklearn.metrics.log_loss` (which also sorts given labels; here
        their order is kept, so that an estimator whose ``classes_`` are not
        sorted is read correctly).

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights with a positive sum.

    Returns
    -------
    error : float
        The calibration error, in [0, 1]; 0 is perfect calibration.

    Raises
    ------
    ValueError
        If ``y_prob`` contains NaN, infinity or values outside [0, 1], if its
        rows do not sum to 1, if the shapes or the numbers of classes do not
        match, if an input is empty, or if ``y_true`` contains labels that are
        not in ``labels``.

    See Also
    --------
    classwise_calibration_error : The mean over classes of each class's error.
    make_calibration_scorer : This metric as a scikit-learn scorer.
    ReliabilityDisplay : The reliability diagram of the same bins.

    References
    ----------
    Guo, Pleiss, Sun, Weinberger, "On Calibration of Modern Neural Networks",
    ICML 2017. Mukhoti et al., "Calibrating Deep Neural Networks using Focal
    Loss", NeurIPS 2020 (equal-mass bins, AdaECE).

    Examples
    --------
    >>> from sklearn_gce.metrics import expected_calibration_error
    >>> y_true = [0, 1, 1, 0]
    >>> y_prob = [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]]
    >>> round(expected_calibration_error(y_true, y_prob), 4)
    0.25
    >>> round(expected_calibration_error(y_true, y_prob, norm="max"), 4)
    0.4
    >>> round(expected_calibration_error(["a", "b"], [0.3, 0.6], n_bins=2), 4)
    0.35
    """
    bins = top_label_bins(
        y_true,
        y_prob,
        n_bins=n_bins,
        strategy=strategy,
        labels=labels,
        sample_weight=sample_weight,
    )
    return bins.error(norm)


@validate_params(_PARAMETER_CONSTRAINTS, prefer_skip_nested_validation=True)
def classwise_calibration_error(
    y_true,
    y_prob,
    *,
    n_bins=15,
    strategy="uniform",
    norm="l1",
    labels=None,
    sample_weight=None,
):
    r"""Classwise calibration error: the mean over classes of each class's error.

    For each class :math:`k`, the probabilities :math:`c_i = p_{ik}` given to
    that class are binned, and the fraction of samples of class :math:`k`
    in each bin is compared with the bin's mean probability; the result is
    the unweighted mean over the :math:`K` classes (the columns of
    ``y_prob``, including classes absent from ``y_true``). With
    :math:`h_i = 1` if :math:`y_i = k` and 0 otherwise, and :math:`W_b`,
    :math:`\mathrm{acc}_b`, :math:`\mathrm{conf}_b` and the norms defined
    from :math:`c_i`, :math:`h_i` and the sample weights exactly as in
    :func:`expected_calibration_error`:

    .. math::

        \mathrm{CWCE} = \frac{1}{K} \sum_{k=1}^{K} \mathrm{CE}_k

    The bins follow the same convention, applied to each class separately:
    bins are :math:`[e_b, e_{b+1})`, the last one closed at 1, so a
    probability of exactly 0 is in the first bin and exactly 1 in the last;
    with ``strategy="quantile"`` the edges are the weighted quantiles of
    that class's column. For binary input each of the two classes counts,
    and with uniform bins both have the same error when no probability lies
    exactly on an edge.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels (numbers or strings).

    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, as in :func:`expected_calibration_error`.

    n_bins : int, default=15
        Number of bins per class.

    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins, or equal-mass bins per class.

    norm : {"l1", "l2", "max"}, default="l1"
        Norm of each class's error, as in :func:`expected_calibration_error`.

    labels : array-like of shape (n_classes,), default=None
        The class of each column of ``y_prob``, in column order, such as
        ``estimator.classes_``. If None, the sorted unique values of
        ``y_true``.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights with a positive sum.

    Returns
    -------
    error : float
        The mean classwise calibration error, in [0, 1].

    Raises
    ------
    ValueError
        On the same bad input as :func:`expected_calibration_error`.

    See Also
    --------
    expected_calibration_error : The top-label calibration error.

    References
    ----------
    Kull et al., "Beyond temperature scaling: Obtaining well-calibrated
    multiclass probabilities with Dirichlet calibration", NeurIPS 2019.

    Examples
    --------
    >>> from sklearn_gce.metrics import classwise_calibration_error
    >>> y_true = [0, 1, 2, 2]
    >>> y_prob = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.5, 0.1, 0.4]]
    >>> round(classwise_calibration_error(y_true, y_prob, n_bins=5), 4)
    0.2167
    """
    bins = classwise_sums(
        *classwise_data(y_true, y_prob, labels, sample_weight), n_bins, strategy
    )
    return float(binned_error(*bins[1:], norm).mean())

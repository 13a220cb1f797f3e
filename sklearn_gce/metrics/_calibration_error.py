"""Binned calibration errors: top-label (ECE, AdaECE, RMSCE, MCE) and classwise.

Everything here is numpy; the display and the scorers reuse these functions so
that there is one binning convention and one calibration-error implementation.
"""

from numbers import Integral
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_array, check_consistent_length, column_or_1d

from sklearn_gce._compat import Interval, StrOptions, validate_params

# Absolute tolerance on the row sums of ``y_prob``: sqrt(float32 eps), so that
# probabilities computed in float32 (a torch softmax) pass once cast to float64.
SUM_TOLERANCE = float(np.sqrt(np.finfo(np.float32).eps))

# Bytes of ``y_prob`` validated per block: a block stays in the CPU cache
# between the passes over it, so the whole array is read from memory once.
_BLOCK_BYTES = 1 << 20

_PARAMETER_CONSTRAINTS = {
    "y_true": ["array-like"],
    "y_prob": ["array-like"],
    "n_bins": [Interval(Integral, 1, None, closed="left")],
    "strategy": [StrOptions({"uniform", "quantile"})],
    "norm": [StrOptions({"l1", "l2", "max"})],
    "labels": ["array-like", None],
    "sample_weight": ["array-like", None],
}


class CalibrationBins(NamedTuple):
    """Per-bin sums of one binned calibration error (private helper type).

    ``weight[b]`` is the total sample weight in bin ``b``; ``confidence_sum``
    and ``hit_sum`` are the weighted sums of confidences and of hits (correct
    predictions for the top-label error, membership of the class for the
    classwise error). Bins are ``[edges[b], edges[b + 1])``, the last one closed.
    """

    edges: np.ndarray
    weight: np.ndarray
    confidence_sum: np.ndarray
    hit_sum: np.ndarray

    @property
    def confidence(self):
        """Mean confidence per bin, NaN for empty bins."""
        return _safe_divide(self.confidence_sum, self.weight)

    @property
    def accuracy(self):
        """Fraction of hits per bin, NaN for empty bins."""
        return _safe_divide(self.hit_sum, self.weight)

    def error(self, norm):
        """Calibration error of these bins; ``norm`` is "l1", "l2" or "max"."""
        filled = self.weight > 0
        weight = self.weight[filled]
        gap = np.abs(self.hit_sum[filled] - self.confidence_sum[filled]) / weight
        if norm == "max":
            return float(gap.max())
        fraction = weight / weight.sum()
        if norm == "l2":
            return float(np.sqrt(fraction @ gap**2))
        return float(fraction @ gap)


def _safe_divide(numerator, denominator):
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


# ---------------------------------------------------------------------------
# Input validation


def _check_inputs(y_true, y_prob, sample_weight):
    """Validate shapes and dtypes; ``y_prob`` comes back 1-D (binary) or 2-D.

    The values of a 2-D ``y_prob`` are checked later, in the same pass over
    its rows that computes the confidences (see :func:`_scan_rows`).
    """
    y_prob = check_array(
        y_prob,
        ensure_2d=False,
        dtype=(np.float64, np.float32),
        ensure_all_finite=False,
        input_name="y_prob",
    )
    if y_prob.ndim == 2 and y_prob.shape[1] == 1:
        y_prob = y_prob[:, 0]
    if y_prob.ndim == 1:
        y_prob = y_prob.astype(np.float64)
        if not (y_prob.min() >= 0 and y_prob.max() <= 1):
            _raise_invalid_probabilities(y_prob[:, None], 0, check_sums=False)
    y_true = column_or_1d(y_true)
    if y_true.dtype.kind == "f" and not np.isfinite(y_true).all():
        raise ValueError("y_true contains NaN or infinity.")
    check_consistent_length(y_true, y_prob)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, y_true)
    return y_true, y_prob, sample_weight


def _check_sample_weight(sample_weight, y_true):
    sample_weight = check_array(
        sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight"
    )
    if sample_weight.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {sample_weight.shape}.")
    check_consistent_length(y_true, sample_weight)
    if sample_weight.min() < 0:
        raise ValueError("sample_weight must be non-negative.")
    if not sample_weight.sum() > 0:
        raise ValueError("sample_weight must have a positive sum.")
    return sample_weight


def _check_classes(y_true, labels, n_columns):
    """The sorted class labels that the columns of ``y_prob`` stand for."""
    present = _unique(y_true)
    if labels is None:
        if present.size != n_columns:
            raise ValueError(
                f"y_true has {present.size} classes {present.tolist()[:10]} but "
                f"y_prob has {n_columns} columns; pass the classes that the "
                "columns correspond to as labels= (e.g. estimator.classes_)."
            )
        return present
    classes = column_or_1d(labels)
    if classes.size < 2:
        raise ValueError(f"labels must hold at least 2 classes, got {classes!r}.")
    if not np.all(classes[1:] > classes[:-1]):
        raise ValueError(
            "labels must be sorted and unique, like estimator.classes_; the "
            f"columns of y_prob follow that order. Got {classes!r}."
        )
    if classes.size != n_columns:
        raise ValueError(
            f"labels has {classes.size} classes but y_prob has {n_columns} columns."
        )
    unknown = present[~np.isin(present, classes)]
    if unknown.size:
        raise ValueError(
            f"y_true contains labels not in labels: {unknown.tolist()[:10]}."
        )
    return classes


def _unique(y):
    """``numpy.unique``, in O(n) for small non-negative integers (the usual case)."""
    if y.dtype.kind in "iu" and y.min() >= 0 and y.max() <= 2 * y.size + 1024:
        return np.flatnonzero(np.bincount(y)).astype(y.dtype)
    return np.unique(y)


def _row_sums(block, out=None):
    # einsum: as fast as a BLAS matvec here, without BLAS threads (which
    # stall badly on a busy machine)
    return np.einsum("ij->i", block, out=out)


def _scan_rows(y_prob):
    """Validate a 2-D ``y_prob`` and return its top-label confidence and column.

    One pass over blocks of rows computes the argmax, the row sums and the
    minimum; NaN and infinity propagate into at least one of them, so they are
    the whole validation, and no N x K temporary is created.
    """
    n_samples, n_classes = y_prob.shape
    step = max(1, _BLOCK_BYTES // (n_classes * y_prob.itemsize))
    starts = range(0, n_samples, step)
    confidence = np.empty(n_samples, dtype=np.float64)
    predicted = np.empty(n_samples, dtype=np.intp)
    row_sums = np.empty(n_samples, dtype=y_prob.dtype)
    block_min = np.empty(len(starts), dtype=y_prob.dtype)
    flat_row_starts = np.arange(step) * n_classes
    for i, start in enumerate(starts):
        block = y_prob[start : start + step]
        rows = slice(start, start + len(block))
        top = block.argmax(axis=1)  # a NaN, if any, is the argmax of its row
        predicted[rows] = top
        if block.flags.c_contiguous:
            confidence[rows] = block.reshape(-1)[flat_row_starts[: len(block)] + top]
        else:
            confidence[rows] = np.take_along_axis(block, top[:, None], axis=1)[:, 0]
        _row_sums(block, out=row_sums[rows])
        block_min[i] = block.min()
    valid = (
        block_min.min() >= 0
        and confidence.max() <= 1
        and row_sums.min() >= 1 - SUM_TOLERANCE
        and row_sums.max() <= 1 + SUM_TOLERANCE
    )
    if not valid:
        row_ok = (confidence <= 1) & (np.abs(row_sums - 1) <= SUM_TOLERANCE)
        bad_blocks = np.flatnonzero(~(block_min >= 0)).tolist()
        bad_blocks += (np.flatnonzero(~row_ok)[:1] // step).tolist()
        start = starts[min(bad_blocks)]
        _raise_invalid_probabilities(y_prob[start : start + step], start)
    return confidence, predicted


def _raise_invalid_probabilities(block, start, check_sums=True):
    """Raise a ValueError that says what is wrong in ``block`` (rows from ``start``)."""
    if np.isnan(block).any():
        raise ValueError("y_prob contains NaN.")
    if np.isinf(block).any():
        raise ValueError("y_prob contains infinity.")
    low, high = block.min(), block.max()
    if low < 0 or high > 1:
        raise ValueError(
            "y_prob must hold probabilities in [0, 1]; got values in "
            f"[{low:.6g}, {high:.6g}]."
        )
    if check_sums:
        sums = _row_sums(block)
        row = np.argmax(np.abs(sums - 1) > SUM_TOLERANCE)
        raise ValueError(
            f"Each row of y_prob must sum to 1 (within {SUM_TOLERANCE:.1e}); "
            f"row {start + row} sums to {sums[row]:.6g}. Pass probabilities "
            "(predict_proba), not scores or logits."
        )


# ---------------------------------------------------------------------------
# Binning: the one place that decides which bin a confidence falls in


def _bin_edges(values, sample_weight, n_bins, strategy):
    """Bin edges ``0 = e_0 <= e_1 <= ... <= e_B = 1`` (see the metrics' docs)."""
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if sample_weight is None:
        # with unit weights the first sample whose rank exceeds b n / B is the
        # order statistic floor(b n / B) (0-based): a partition, not a sort
        ranks = np.arange(1, n_bins) * values.size // n_bins
        inner = np.partition(values, ranks)[ranks]
    else:
        order = np.argsort(values, kind="stable")
        cumulative = np.cumsum(sample_weight[order])
        targets = np.arange(1, n_bins) * cumulative[-1] / n_bins
        # first sample whose cumulative weight exceeds b/B of the total
        first = np.searchsorted(cumulative, targets, side="right")
        inner = values[order[np.minimum(first, values.size - 1)]]
    return np.concatenate(([0.0], inner, [1.0]))


def _assign_bins(values, edges, strategy="quantile"):
    """Bin of each value: the number of inner edges at or below it."""
    if strategy != "uniform":
        return np.searchsorted(edges[1:-1], values, side="right")
    # Same result, faster: floor(value * B) is off by at most one near an
    # edge, and comparing with the two edges of the guessed bin corrects it.
    n_bins = len(edges) - 1
    ids = (values * n_bins).astype(np.intp)
    np.minimum(ids, n_bins - 1, out=ids)
    ids -= values < edges[ids]
    ids += values >= np.append(edges[1:-1], np.inf)[ids]
    return ids


def _bin(values, hits, sample_weight, n_bins, strategy):
    """Weighted per-bin sums of ``values`` (confidences) and ``hits`` (0/1)."""
    edges = _bin_edges(values, sample_weight, n_bins, strategy)
    ids = _assign_bins(values, edges, strategy)
    if sample_weight is None:
        # one integer count of (bin, hit) pairs gives both counts and hits
        counts = np.bincount(ids + n_bins * hits, minlength=2 * n_bins)
        weight = (counts[:n_bins] + counts[n_bins:]).astype(np.float64)
        hit_sum = counts[n_bins:].astype(np.float64)
        confidence_sum = np.bincount(ids, weights=values, minlength=n_bins)
    else:
        weight = np.bincount(ids, weights=sample_weight, minlength=n_bins)
        confidence_sum = np.bincount(
            ids, weights=values * sample_weight, minlength=n_bins
        )
        hit_sum = np.bincount(ids, weights=hits * sample_weight, minlength=n_bins)
    return CalibrationBins(edges, weight, confidence_sum, hit_sum)


def _validate(y_true, y_prob, labels, sample_weight):
    y_true, y_prob, sample_weight = _check_inputs(y_true, y_prob, sample_weight)
    n_columns = 2 if y_prob.ndim == 1 else y_prob.shape[1]
    classes = _check_classes(y_true, labels, n_columns)
    return y_true, y_prob, classes, sample_weight


def top_label_bins(
    y_true, y_prob, *, n_bins=15, strategy="uniform", labels=None, sample_weight=None
):
    """Validate the inputs and bin the top-label confidences (private helper).

    Shared by :func:`expected_calibration_error`, the scorers and
    :class:`~sklearn_gce.metrics.ReliabilityDisplay`.
    """
    y_true, y_prob, classes, sample_weight = _validate(
        y_true, y_prob, labels, sample_weight
    )
    if y_prob.ndim == 1:
        confidence = np.maximum(y_prob, 1 - y_prob)
        predicted = (y_prob > 1 - y_prob).astype(np.intp)
    else:
        confidence, predicted = _scan_rows(y_prob)
    hits = classes[predicted] == y_true
    return _bin(confidence, hits, sample_weight, n_bins, strategy)


def classwise_bins(
    y_true, y_prob, *, n_bins=15, strategy="uniform", labels=None, sample_weight=None
):
    """Validate the inputs and bin each class's probabilities (private helper).

    Returns one :class:`CalibrationBins` per class, in the order of the
    columns of ``y_prob``.
    """
    y_true, y_prob, classes, sample_weight = _validate(
        y_true, y_prob, labels, sample_weight
    )
    if y_prob.ndim == 1:
        columns = [1 - y_prob, y_prob]
    else:
        _scan_rows(y_prob)  # validation only
        columns = (y_prob[:, k].astype(np.float64) for k in range(len(classes)))
    return [
        _bin(column, y_true == label, sample_weight, n_bins, strategy)
        for label, column in zip(classes, columns)
    ]


# ---------------------------------------------------------------------------
# Public metrics


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
        (or a single column) is the probability of the positive class, the
        second of the two sorted classes, as in
        :func:`sklearn.metrics.log_loss`.

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
        Sorted class labels that the columns of ``y_prob`` correspond to, such
        as ``estimator.classes_``; needed when ``y_true`` lacks some classes.
        If None, the sorted unique values of ``y_true``.

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
        Sorted class labels that the columns of ``y_prob`` correspond to,
        such as ``estimator.classes_``. If None, the sorted unique values of
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
    per_class = classwise_bins(
        y_true,
        y_prob,
        n_bins=n_bins,
        strategy=strategy,
        labels=labels,
        sample_weight=sample_weight,
    )
    return float(np.mean([bins.error(norm) for bins in per_class]))

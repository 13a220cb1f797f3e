"""Binning of confidences: the one place that decides which bin a value is in.

Bins are ``[e_b, e_{b+1})``, the last one closed at 1; see
:func:`~sklearn_gce.metrics.expected_calibration_error` for the definition of
the uniform and quantile edges.
"""

import functools
from typing import NamedTuple

import numpy as np

from sklearn_gce.metrics._validation import check_inputs, class_index, scan_rows

# Elements of ``y_prob`` binned at a time by the classwise error (cache-sized).
_BLOCK_ELEMENTS = 1 << 16


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
        return float(binned_error(self.weight, self.confidence_sum, self.hit_sum, norm))


def binned_error(weight, confidence_sum, hit_sum, norm):
    """Calibration error of per-bin sums along the last axis, for any leading axes.

    Empty bins (zero weight) have zero sums, so they add nothing to any norm.
    """
    filled = weight > 0
    gap = np.abs(hit_sum - confidence_sum) / np.where(filled, weight, 1.0)
    if norm == "max":
        return gap.max(axis=-1)
    fraction = weight / weight.sum(axis=-1, keepdims=True)
    if norm == "l2":
        return np.sqrt(np.einsum("...b,...b->...", fraction, gap**2))
    return np.einsum("...b,...b->...", fraction, gap)


def _safe_divide(numerator, denominator):
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def bin_edges(values, sample_weight, n_bins, strategy):
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


def assign_bins(values, edges, strategy, out=None):
    """Bin of each value: the number of inner edges at or below it.

    ``out``, an integer array of the shape of ``values``, receives the bins of
    uniform edges (saving an allocation in the classwise loop).
    """
    if strategy != "uniform":
        return np.searchsorted(edges[1:-1], values, side="right")
    # Same result, faster: floor(value * B) is off by at most one near an
    # edge, and comparing with the edges of the guessed bin corrects it; for
    # most B and float32 values the guess is already right (see below).
    n_bins = len(edges) - 1
    lower, upper, guess_is_exact = _uniform_thresholds(n_bins, values.dtype.char)
    if out is None:
        out = np.empty(values.shape, dtype=np.intp)
    np.multiply(values, np.float64(n_bins), out=out, casting="unsafe")
    np.minimum(out, n_bins - 1, out=out)
    if not guess_is_exact:
        out -= values < lower[out]
        out += values >= upper[out]
    return out


@functools.lru_cache
def _uniform_thresholds(n_bins, dtype_char):
    """The guess ``floor(float64(v) * B)`` and its correction, for one dtype.

    ``lower[b]`` is the smallest value of the dtype at or above the edge
    ``e_b = linspace(0, 1, B + 1)[b]`` (and ``upper[b] = lower[b + 1]``), so
    ``v >= e_b`` exactly when ``v >= lower[b]``. The guess is exact for every
    value of the dtype when it is at least ``b`` at ``lower[b]`` and below
    ``b`` just under it (it is monotone in ``v``): true for float32 and
    ``B < 364``, rarely for float64, whose products are rounded.
    """
    dtype = np.dtype(dtype_char)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    lower = edges[:-1].astype(dtype)
    lower[lower < edges[:-1]] = np.nextafter(
        lower[lower < edges[:-1]], dtype.type(np.inf)
    )
    upper = np.append(lower[1:], dtype.type(np.inf))
    inner = np.arange(1, n_bins)
    below = np.nextafter(lower[1:], dtype.type(-np.inf))
    guess_is_exact = bool(
        np.all(np.floor(lower[1:].astype(np.float64) * n_bins) >= inner)
        and np.all(np.floor(below.astype(np.float64) * n_bins) < inner)
    )
    return lower, upper, guess_is_exact


def bin_values(values, hits, sample_weight, n_bins, strategy):
    """Weighted per-bin sums of ``values`` (confidences) and ``hits`` (0/1)."""
    edges = bin_edges(values, sample_weight, n_bins, strategy)
    ids = assign_bins(values, edges, strategy)
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


def top_label_data(y_true, y_prob, labels, sample_weight):
    """Validated top-label confidences, hits (bool) and sample weights."""
    y_true, y_prob, classes, sample_weight = check_inputs(
        y_true, y_prob, labels, sample_weight
    )
    if y_prob.ndim == 1:
        confidence = np.maximum(y_prob, 1 - y_prob)
        predicted = (y_prob > 1 - y_prob).astype(np.intp)
    else:
        confidence, predicted = scan_rows(y_prob)
    return confidence, classes[predicted] == y_true, sample_weight


def top_label_bins(
    y_true, y_prob, *, n_bins=15, strategy="uniform", labels=None, sample_weight=None
):
    """Validate the inputs and bin the top-label confidences (private helper).

    Shared by :func:`expected_calibration_error`, the scorers and
    :class:`~sklearn_gce.metrics.ReliabilityDisplay`.
    """
    confidence, hits, sample_weight = top_label_data(
        y_true, y_prob, labels, sample_weight
    )
    return bin_values(confidence, hits, sample_weight, n_bins, strategy)


def classwise_data(y_true, y_prob, labels, sample_weight):
    """Validated 2-D probabilities, the column of each true class, and weights.

    A 1-D ``y_prob`` (positive-class probabilities) becomes two columns.
    """
    y_true, y_prob, classes, sample_weight = check_inputs(
        y_true, y_prob, labels, sample_weight
    )
    if y_prob.ndim == 1:
        y_prob = np.column_stack([1 - y_prob, y_prob])
    else:
        scan_rows(y_prob)  # validation only
    return y_prob, class_index(y_true, classes), sample_weight


def classwise_sums(y_prob, y_index, sample_weight, n_bins, strategy):
    """Each class's bin sums, as one :class:`CalibrationBins` of stacked arrays.

    ``edges`` has shape (n_classes, n_bins + 1) and the sums (n_classes,
    n_bins): row ``k`` holds the bins of column ``k`` of ``y_prob``, whose
    hits are the samples with ``y_index == k``.
    """
    n_classes = y_prob.shape[1]
    if strategy != "uniform":
        per_class = [
            bin_values(
                y_prob[:, k].astype(np.float64),
                y_index == k,
                sample_weight,
                n_bins,
                strategy,
            )
            for k in range(n_classes)
        ]
        return CalibrationBins(*(np.stack(arrays) for arrays in zip(*per_class)))
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    weight, confidence_sum = _uniform_column_sums(y_prob, sample_weight, edges)
    # a sample is a hit only in the column of its true class
    true_prob = y_prob[np.arange(len(y_index)), y_index].astype(np.float64)
    keys = assign_bins(true_prob, edges, strategy) + n_bins * y_index
    hit_sum = np.bincount(keys, weights=sample_weight, minlength=weight.size)
    shape = (n_classes, n_bins)
    return CalibrationBins(
        np.broadcast_to(edges, (n_classes, n_bins + 1)),
        weight.reshape(shape),
        confidence_sum.reshape(shape),
        hit_sum.astype(np.float64).reshape(shape),
    )


def _uniform_column_sums(y_prob, sample_weight, edges):
    """Weight and probability sums of every (column, uniform bin) pair.

    One ``bincount`` over (column, bin) keys per block of rows, instead of
    one pass per column: a block stays in the CPU cache while it is binned,
    and the block buffers are allocated once.
    """
    n_samples, n_classes = y_prob.shape
    n_bins = len(edges) - 1
    size = n_classes * n_bins
    step = max(1, _BLOCK_ELEMENTS // n_classes)
    keys_buffer = np.empty((step, n_classes), dtype=np.intp)
    values_buffer = np.empty((step, n_classes))  # float64, as bincount wants
    offsets = np.arange(n_classes) * n_bins
    weight = np.zeros(size)
    confidence_sum = np.zeros(size)
    for start in range(0, n_samples, step):
        block = y_prob[start : start + step]
        keys = assign_bins(block, edges, "uniform", out=keys_buffer[: len(block)])
        keys += offsets
        keys = keys.ravel()
        values = values_buffer[: len(block)]
        np.copyto(values, block)
        if sample_weight is None:
            weight += np.bincount(keys, minlength=size)
        else:
            row_weight = sample_weight[start : start + step, None]
            weight += np.bincount(
                keys,
                weights=np.broadcast_to(row_weight, block.shape).ravel(),
                minlength=size,
            )
            values *= row_weight
        confidence_sum += np.bincount(keys, weights=values.ravel(), minlength=size)
    return weight, confidence_sum


def classwise_bins(
    y_true, y_prob, *, n_bins=15, strategy="uniform", labels=None, sample_weight=None
):
    """Validate the inputs and bin each class's probabilities (private helper).

    Returns one :class:`CalibrationBins` per class, in the order of the
    columns of ``y_prob``.
    """
    stacked = classwise_sums(
        *classwise_data(y_true, y_prob, labels, sample_weight), n_bins, strategy
    )
    return [CalibrationBins(*arrays) for arrays in zip(*stacked)]

"""Binning of confidences: the one place that decides which bin a value is in.

Bins are ``[e_b, e_{b+1})``, the last one closed at 1; see
:func:`~sklearn_gce.metrics.expected_calibration_error` for the definition of
the uniform and quantile edges.
"""

from typing import NamedTuple

import numpy as np

from sklearn_gce.metrics._validation import check_inputs, scan_rows


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


def assign_bins(values, edges, strategy):
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


def top_label_bins(
    y_true, y_prob, *, n_bins=15, strategy="uniform", labels=None, sample_weight=None
):
    """Validate the inputs and bin the top-label confidences (private helper).

    Shared by :func:`expected_calibration_error`, the scorers and
    :class:`~sklearn_gce.metrics.ReliabilityDisplay`.
    """
    y_true, y_prob, classes, sample_weight = check_inputs(
        y_true, y_prob, labels, sample_weight
    )
    if y_prob.ndim == 1:
        confidence = np.maximum(y_prob, 1 - y_prob)
        predicted = (y_prob > 1 - y_prob).astype(np.intp)
    else:
        confidence, predicted = scan_rows(y_prob)
    hits = classes[predicted] == y_true
    return bin_values(confidence, hits, sample_weight, n_bins, strategy)


def classwise_bins(
    y_true, y_prob, *, n_bins=15, strategy="uniform", labels=None, sample_weight=None
):
    """Validate the inputs and bin each class's probabilities (private helper).

    Returns one :class:`CalibrationBins` per class, in the order of the
    columns of ``y_prob``.
    """
    y_true, y_prob, classes, sample_weight = check_inputs(
        y_true, y_prob, labels, sample_weight
    )
    if y_prob.ndim == 1:
        columns = [1 - y_prob, y_prob]
    else:
        scan_rows(y_prob)  # validation only
        columns = (y_prob[:, k].astype(np.float64) for k in range(len(classes)))
    return [
        bin_values(column, y_true == label, sample_weight, n_bins, strategy)
        for label, column in zip(classes, columns)
    ]

"""Calibration errors of many resampled data sets at once (private).

The bootstrap reweights the samples (a resample is a row of multiplicities)
and the consistency test redraws the labels from the predicted
probabilities. Each statistic below validates and prepares the predictions
once, then evaluates its error on rows of weights (:meth:`reweighted`) or of
labels (:meth:`relabelled`), vectorised over the rows wherever the bins do not
depend on the row. The single-data-set paths are those of the public metrics.
"""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from sklearn_gce._compat import Interval, StrOptions
from sklearn_gce.metrics._binning import (
    assign_bins,
    bin_values,
    binned_error,
    classwise_data,
    classwise_sums,
    top_label_data,
)
from sklearn_gce.metrics._smooth import (
    MIN_BANDWIDTH,
    SmoothErrorCurve,
    grid_intervals,
    grid_masses,
)

# Elements (rows x samples x work per sample) evaluated per batch of rows.
BATCH_ELEMENTS = 1 << 21

# Constraints of the parameters that choose and prepare a statistic, and of
# the resampling, for the public functions' @validate_params.
PARAMETER_CONSTRAINTS = {
    "y_true": ["array-like"],
    "metric": [StrOptions({"expected", "classwise", "smooth"})],
    "n_bins": [Interval(Integral, 1, None, closed="left")],
    "strategy": [StrOptions({"uniform", "quantile"})],
    "norm": [StrOptions({"l1", "l2", "max"})],
    "labels": ["array-like", None],
    "sample_weight": ["array-like", None],
    "n_resamples": [Interval(Integral, 2, None, closed="left")],
    "random_state": ["random_state"],
}


def check_generator(random_state):
    """A numpy Generator seeded from scikit-learn's ``random_state``."""
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.random.default_rng(seed)


def _row_sums(keys, weights, n_keys):
    """Per-row ``bincount`` of ``keys`` in ``range(n_keys)`` with ``weights``.

    ``keys`` and ``weights`` broadcast to one shape (n_rows, ...); returns
    the sums of each row, shape (n_rows, n_keys), from a single bincount.
    """
    keys, weights = np.broadcast_arrays(keys, weights)
    n_rows = keys.shape[0]
    offsets = n_keys * np.arange(n_rows).reshape((-1,) + (1,) * (keys.ndim - 1))
    sums = np.bincount(
        (keys + offsets).ravel(), weights=weights.ravel(), minlength=n_rows * n_keys
    )
    return sums.reshape(n_rows, n_keys)


class TopLabelStatistic:
    """Binned top-label error (ECE, RMSCE, MCE) of fixed predictions."""

    def __init__(self, confidence, hits, sample_weight, n_bins, strategy, norm):
        self.confidence = confidence
        self.observed = hits
        self.sample_weight = (
            np.ones(confidence.size) if sample_weight is None else sample_weight
        )
        self.n_bins, self.strategy, self.norm = n_bins, strategy, norm
        self.bins = bin_values(confidence, hits, sample_weight, n_bins, strategy)
        self.bin_ids = assign_bins(confidence, self.bins.edges, strategy)
        self.cost = 1

    def value(self):
        return self.bins.error(self.norm)

    def reweighted(self, weights):
        weights = weights * self.sample_weight
        if self.strategy != "uniform":  # the edges move with the weights
            return np.array(
                [
                    bin_values(
                        self.confidence, self.observed, row, self.n_bins, self.strategy
                    ).error(self.norm)
                    for row in weights
                ]
            )
        sums = [
            _row_sums(self.bin_ids, weights * factor, self.n_bins)
            for factor in (1.0, self.confidence, self.observed)
        ]
        return binned_error(*sums, self.norm)

    def relabelled(self, hits):
        hit_sum = _row_sums(self.bin_ids, hits * self.sample_weight, self.n_bins)
        return binned_error(
            self.bins.weight, self.bins.confidence_sum, hit_sum, self.norm
        )

    def draw(self, rng, size):
        return rng.random(size) < self.confidence


class ClasswiseStatistic:
    """Classwise binned error of fixed predictions."""

    def __init__(self, y_prob, y_index, sample_weight, n_bins, strategy, norm):
        n_samples, n_classes = y_prob.shape
        self.y_prob = y_prob
        self.observed = y_index
        self.sample_weight = (
            np.ones(n_samples) if sample_weight is None else sample_weight
        )
        self.n_bins, self.strategy, self.norm = n_bins, strategy, norm
        self.bins = classwise_sums(y_prob, y_index, sample_weight, n_bins, strategy)
        # key of each (sample, class): class * n_bins + bin of its probability
        self.keys = np.empty((n_samples, n_classes), dtype=np.intp)
        for k in range(n_classes):
            self.keys[:, k] = k * n_bins + assign_bins(
                y_prob[:, k].astype(np.float64), self.bins.edges[k], strategy
            )
        self.n_keys = n_classes * n_bins
        self._true_keys = self.keys[np.arange(n_samples), y_index]
        self.cost = n_classes
        self._cumulative = None

    def _error(self, weight, confidence_sum, hit_sum):
        shape = (-1, *self.bins.weight.shape)
        error = binned_error(
            weight.reshape(shape),
            confidence_sum.reshape(shape),
            hit_sum.reshape(shape),
            self.norm,
        )
        return error.mean(axis=-1)

    def value(self):
        return float(self._error(*self.bins[1:])[0])

    def reweighted(self, weights):
        weights = weights * self.sample_weight
        if self.strategy != "uniform":
            return np.array(
                [
                    self._error(
                        *classwise_sums(
                            self.y_prob, self.observed, row, self.n_bins, self.strategy
                        )[1:]
                    )[0]
                    for row in weights
                ]
            )
        per_class = weights[:, :, None]
        weight = _row_sums(self.keys, per_class, self.n_keys)
        confidence_sum = _row_sums(self.keys, per_class * self.y_prob, self.n_keys)
        hit_sum = _row_sums(self._true_keys, weights, self.n_keys)
        return self._error(weight, confidence_sum, hit_sum)

    def relabelled(self, labels):
        labels = np.asarray(labels, dtype=np.intp)
        true_keys = np.take_along_axis(self.keys, labels.T, axis=1).T
        hit_sum = _row_sums(true_keys, self.sample_weight, self.n_keys)
        n_rows = labels.shape[0]
        return self._error(
            np.broadcast_to(self.bins.weight.ravel(), (n_rows, self.n_keys)),
            np.broadcast_to(self.bins.confidence_sum.ravel(), (n_rows, self.n_keys)),
            hit_sum,
        )

    def draw(self, rng, size):
        """Labels drawn from each row's probabilities (inverse CDF)."""
        if self._cumulative is None:
            cumulative = np.cumsum(self.y_prob, axis=1, dtype=np.float64)
            self._cumulative = cumulative / cumulative[:, -1:]
        uniform = rng.random(size)
        labels = (uniform[..., None] >= self._cumulative).sum(axis=-1)
        return np.minimum(labels, self.y_prob.shape[1] - 1)


class SmoothStatistic:
    """Smooth top-label error (fixed-point bandwidth) of fixed predictions."""

    def __init__(self, confidence, hits, sample_weight):
        self.confidence = confidence
        self.observed = hits
        self.sample_weight = (
            np.ones(confidence.size) if sample_weight is None else sample_weight
        )
        self.n_intervals = grid_intervals(MIN_BANDWIDTH)
        self.cost = 8  # the transforms of the grid, per sample of a typical set

    def _errors(self, weights, hits):
        residual = weights * (self.confidence - hits)
        curve = SmoothErrorCurve(
            grid_masses(self.confidence, residual, self.n_intervals),
            weights.sum(axis=-1),
        )
        return curve.fixed_point()[1]

    def value(self):
        return float(self._errors(self.sample_weight[None], self.observed)[0])

    def reweighted(self, weights):
        return self._errors(weights * self.sample_weight, self.observed)

    def relabelled(self, hits):
        weights = np.broadcast_to(self.sample_weight, hits.shape)
        return self._errors(weights, hits)

    def draw(self, rng, size):
        return rng.random(size) < self.confidence


def prepare_statistic(
    metric, y_true, y_prob, *, n_bins, strategy, norm, labels, sample_weight
):
    """Validate the inputs and prepare the calibration error named ``metric``."""
    if metric == "classwise":
        return ClasswiseStatistic(
            *classwise_data(y_true, y_prob, labels, sample_weight),
            n_bins,
            strategy,
            norm,
        )
    confidence, hits, sample_weight = top_label_data(
        y_true, y_prob, labels, sample_weight
    )
    if metric == "smooth":
        return SmoothStatistic(confidence, hits, sample_weight)
    return TopLabelStatistic(confidence, hits, sample_weight, n_bins, strategy, norm)


def batch_size(statistic, n_samples):
    """Rows per batch that keep a batch within ``BATCH_ELEMENTS``."""
    return max(1, BATCH_ELEMENTS // (n_samples * statistic.cost))

"""Validation of calibration-metric inputs, and the one pass over ``y_prob``."""

import numpy as np
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.multiclass import check_classification_targets

from sklearn_gce._compat import _check_sample_weight as _sklearn_check_sample_weight

# Absolute tolerance on the row sums of ``y_prob``: sqrt(float32 eps), so that
# probabilities computed in float32 (a torch softmax) pass once cast to float64.
SUM_TOLERANCE = float(np.sqrt(np.finfo(np.float32).eps))

# Weights above this are scaled down (every metric depends on their ratios
# only), so that sums over 1e9 samples and their squares stay finite.
_LARGEST_WEIGHT = 1e100

# Bytes of ``y_prob`` validated per block: a block stays in the CPU cache
# between the passes over it, so the whole array is read from memory once.
_BLOCK_BYTES = 1 << 20


def check_inputs(y_true, y_prob, labels, sample_weight):
    """Validated ``y_true``, ``y_prob`` (1-D or 2-D), classes and weights.

    The values of a 2-D ``y_prob`` are not checked yet: :func:`scan_rows`
    does it while computing the confidences.
    """
    y_true, y_prob, sample_weight = _check_arrays(y_true, y_prob, sample_weight)
    n_columns = 2 if y_prob.ndim == 1 else y_prob.shape[1]
    classes = _check_classes(y_true, labels, n_columns)
    return y_true, y_prob, classes, sample_weight


def _check_arrays(y_true, y_prob, sample_weight):
    """Validate shapes and dtypes; ``y_prob`` comes back 1-D (binary) or 2-D."""
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
    if y_true.dtype.kind == "f" and np.any(y_true != np.trunc(y_true)):
        # scikit-learn's message (type_of_target), without its O(n log n) pass
        raise ValueError(
            "Unknown label type: continuous. y_true must hold class labels, "
            "not probabilities or scores."
        )
    if y_true.dtype.kind == "O":  # mixed strings and numbers cannot be sorted
        check_classification_targets(y_true)
    check_consistent_length(y_true, y_prob)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, y_true)
    return y_true, y_prob, sample_weight


def _check_sample_weight(sample_weight, y_true):
    # scikit-learn's check: 1-D, finite, non-negative, not all zero
    sample_weight = _sklearn_check_sample_weight(
        sample_weight, y_true, dtype=np.float64, ensure_non_negative=True
    )
    largest = sample_weight.max()
    if largest > _LARGEST_WEIGHT:
        # only ratios of weights matter: keep their sums (and squares) finite
        sample_weight = sample_weight / largest
    return sample_weight


def _check_classes(y_true, labels, n_columns):
    """The class of each column of ``y_prob``, in column order."""
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
    if np.unique(classes).size != classes.size:
        raise ValueError(f"labels must be unique, got {classes!r}.")
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


def class_index(y_true, classes):
    """The column of each label of ``y_true`` (all of them are in ``classes``)."""
    order = np.argsort(classes, kind="stable")
    return order[np.searchsorted(classes[order], y_true)]


def _unique(y):
    """``numpy.unique``, in O(n) for small non-negative integers (the usual case)."""
    if y.dtype.kind in "iu" and y.min() >= 0 and y.max() <= 2 * y.size + 1024:
        return np.flatnonzero(np.bincount(y)).astype(y.dtype)
    return np.unique(y)


def _row_sums(block, out=None):
    # einsum: as fast as a BLAS matvec here, without BLAS threads (which
    # stall badly on a busy machine)
    return np.einsum("ij->i", block, out=out)


def scan_rows(y_prob):
    """Validate a 2-D ``y_prob`` and return its top-label confidence and column.

    One pass over blocks of rows computes the argmax, the row sums and the
    minimum, and no N x K temporary is created. NaN and infinity propagate
    into at least one of them, so checking them afterwards (minimum >= 0,
    row maximum <= 1, row sums near 1) is the whole validation.
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

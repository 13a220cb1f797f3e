"""Inputs shared by the tests of the calibration metrics (not a test module)."""

import numpy as np


def random_probabilities(rng, n_samples, n_classes, scale=2.0, dtype=np.float64):
    logits = rng.normal(scale=scale, size=(n_samples, n_classes))
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (prob / prob.sum(axis=1, keepdims=True)).astype(dtype)


def random_problem(seed, n_samples=300, n_classes=4, dtype=np.float64):
    """Probabilities and labels drawn from them, so that hits and misses mix."""
    rng = np.random.default_rng(seed)
    y_prob = random_probabilities(rng, n_samples, n_classes, dtype=dtype)
    cumulative = y_prob.astype(np.float64).cumsum(axis=1)
    y_true = (rng.random((n_samples, 1)) > cumulative).sum(axis=1)
    return np.minimum(y_true, n_classes - 1), y_prob


# Bad input: each case changes one thing of GOOD_Y / GOOD_P and names the
# message it must raise.

GOOD_Y = [0, 1, 2, 1]
GOOD_P = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]]


def with_value(row, col, value):
    y_prob = np.array(GOOD_P)
    y_prob[row, col] = value
    return y_prob


BAD_INPUTS = [
    ({"y_prob": with_value(1, 2, np.nan)}, "y_prob contains NaN"),
    ({"y_prob": with_value(1, 2, np.inf)}, "y_prob contains infinity"),
    ({"y_prob": with_value(1, 2, -np.inf)}, "y_prob contains infinity"),
    ({"y_prob": [[1.2, -0.2, 0]] * 4}, r"probabilities in \[0, 1\]"),
    ({"y_prob": [[-0.1, 0.6, 0.5]] * 4}, r"probabilities in \[0, 1\]"),
    ({"y_prob": with_value(2, 2, 0.5)}, "row 2 sums to 0.9"),
    ({"y_prob": [[2.0, 1.0, -1.0]] * 4}, r"probabilities in \[0, 1\]"),
    ({"y_prob": [[0.3, 0.3, 0.3]] * 4}, "row 0 sums to 0.9"),
    ({"y_true": [0, 1, 2]}, "inconsistent numbers of samples"),
    ({"y_true": [[0, 1]] * 4}, "y should be a 1d array"),
    ({"y_true": [0.0, 1.0, np.nan, 2.0]}, "y_true contains NaN"),
    # probabilities passed as labels, and labels that cannot be sorted
    ({"y_true": [0.0, 1.0, 1.5, 2.0]}, "Unknown label type: continuous"),
    ({"y_true": np.array([0, "a", 1, 2], dtype=object)}, "Unknown label type"),
    ({"y_prob": np.full((4, 3, 1), 1 / 3)}, "dim 3"),
    ({"y_true": [], "y_prob": np.zeros((0, 3))}, "0 sample"),
    ({"y_prob": np.zeros((4, 0))}, "0 feature"),
    ({"y_prob": [["a", "b", "c"]] * 4}, "could not convert"),
    ({"n_bins": 0}, "n_bins"),
    ({"n_bins": 2.5}, "n_bins"),
    ({"strategy": "kmeans"}, "strategy"),
    ({"norm": "l3"}, "norm"),
    ({"y_true": [0, 1, 1, 1]}, "2 classes.*3 columns"),
    ({"y_true": [0, 1, 3, 1], "labels": [0, 1, 2]}, r"not in labels: \[3\]"),
    ({"labels": [0, 1, 1]}, "must be unique"),
    ({"labels": ["a", "b", "a"]}, "must be unique"),
    ({"labels": [0, 1, 2, 3]}, "4 classes but y_prob has 3 columns"),
    ({"labels": [0]}, "at least 2 classes"),
    ({"labels": 3}, "labels"),
    ({"y_true": [1, 1, 1, 1], "y_prob": [0.1, 0.2, 0.3, 0.9]}, "1 classes"),
    ({"y_true": [0, 1, 0, 1], "y_prob": [0.1, 0.2, 1.3, 0.9]}, r"in \[0, 1\]"),
    ({"y_true": [0, 1, 0, 1], "y_prob": [0.1, 0.2, np.nan, 0.9]}, "contains NaN"),
    ({"sample_weight": [1, 1, 1]}, r"sample_weight.shape == \(3,\), expected \(4,\)"),
    (
        {"sample_weight": [1, -1, 1, 1]},
        "Negative values in data passed to `sample_weight`",
    ),
    ({"sample_weight": [0, 0, 0, 0]}, "at least one non-zero"),
    ({"sample_weight": [1, np.nan, 1, 1]}, "sample_weight.*NaN"),
    ({"sample_weight": [[1, 1]] * 4}, "Sample weights must be 1D"),
    ({"sample_weight": "abc"}, "sample_weight"),
]

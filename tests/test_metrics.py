"""Tests of the calibration errors (_calibration_error, _binning, _validation)."""

import doctest
import tracemalloc

import numpy as np
import pytest
from _metric_cases import BAD_INPUTS, GOOD_P, GOOD_Y, random_problem

from sklearn_gce.metrics import (
    _binning,
    _calibration_error,
    _validation,
    classwise_calibration_error,
    expected_calibration_error,
)

METRICS = {
    "expected": expected_calibration_error,
    "classwise": classwise_calibration_error,
}
STRATEGIES = ["uniform", "quantile"]
NORMS = ["l1", "l2", "max"]


# ---------------------------------------------------------------------------
# A brute-force float64 reference of the documented definition: plain loops.


def reference_edges(conf, weight, n_bins, strategy):
    if strategy == "uniform":
        return [float(e) for e in np.linspace(0, 1, n_bins + 1)]
    total = sum(weight)
    edges = [0.0]
    for b in range(1, n_bins):
        candidates = []
        for c in conf:
            below = sum(w for c2, w in zip(conf, weight) if c2 <= c)
            if below * n_bins > b * total:  # F(c) > b / B
                candidates.append(c)
        edges.append(min(candidates))
    return edges + [1.0]


def reference_binned_error(conf, hits, weight, n_bins, strategy, norm):
    edges = reference_edges(conf, weight, n_bins, strategy)
    bin_weight = [0.0] * n_bins
    bin_conf = [0.0] * n_bins
    bin_hits = [0.0] * n_bins
    for c, h, w in zip(conf, hits, weight):
        b = sum(1 for e in edges[1:-1] if e <= c)
        bin_weight[b] += w
        bin_conf[b] += w * c
        bin_hits[b] += w * h
    total = sum(weight)
    gaps = [
        (wb / total, abs(hb / wb - cb / wb))
        for wb, cb, hb in zip(bin_weight, bin_conf, bin_hits)
        if wb > 0
    ]
    if norm == "l1":
        return sum(f * g for f, g in gaps)
    if norm == "l2":
        return sum(f * g * g for f, g in gaps) ** 0.5
    return max(g for _, g in gaps)


def reference_ece(y_true, y_prob, n_bins, strategy, norm, sample_weight=None):
    y_prob = np.asarray(y_prob, dtype=np.float64)
    if y_prob.ndim == 1:
        y_prob = np.column_stack([1 - y_prob, y_prob])
    classes = sorted(set(y_true))
    weight = [1.0] * len(y_true) if sample_weight is None else list(sample_weight)
    conf, hits = [], []
    for label, row in zip(y_true, y_prob.tolist()):
        top = row.index(max(row))  # first column among ties
        conf.append(row[top])
        hits.append(1.0 if classes[top] == label else 0.0)
    return reference_binned_error(conf, hits, weight, n_bins, strategy, norm)


def reference_classwise(y_true, y_prob, n_bins, strategy, norm, sample_weight=None):
    y_prob = np.asarray(y_prob, dtype=np.float64)
    if y_prob.ndim == 1:
        y_prob = np.column_stack([1 - y_prob, y_prob])
    classes = sorted(set(y_true))
    weight = [1.0] * len(y_true) if sample_weight is None else list(sample_weight)
    errors = []
    for k, label in enumerate(classes):
        conf = [float(row[k]) for row in y_prob]
        hits = [1.0 if y == label else 0.0 for y in y_true]
        errors.append(
            reference_binned_error(conf, hits, weight, n_bins, strategy, norm)
        )
    return sum(errors) / len(errors)


REFERENCES = {"expected": reference_ece, "classwise": reference_classwise}


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_bins", [1, 7, 15])
def test_matches_brute_force_reference(name, strategy, norm, weighted, n_bins):
    y_true, y_prob = random_problem(0, n_samples=100, n_classes=3)
    sample_weight = None
    if weighted:
        sample_weight = np.random.default_rng(1).uniform(0, 3, size=len(y_true))
    expected = REFERENCES[name](y_true, y_prob, n_bins, strategy, norm, sample_weight)
    got = METRICS[name](
        y_true,
        y_prob,
        n_bins=n_bins,
        strategy=strategy,
        norm=norm,
        sample_weight=sample_weight,
    )
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-14)


def rounded_problems():
    """Inputs with ties, zeros, ones and values exactly on edges."""
    rng = np.random.default_rng(3)
    binary = rng.integers(0, 11, size=90) / 10, rng.integers(0, 2, size=90)
    counts = rng.integers(0, 5, size=(90, 3)).astype(float)
    counts[counts.sum(axis=1) == 0, 0] = 1
    multiclass = counts / counts.sum(axis=1, keepdims=True), rng.integers(0, 3, 90)
    return [binary, multiclass]


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_matches_reference_with_ties_and_integer_weights(name, strategy):
    sample_weight = np.random.default_rng(4).integers(0, 4, size=90)
    for y_prob, y_true in rounded_problems():
        for norm in NORMS:
            expected = REFERENCES[name](
                y_true, y_prob, 5, strategy, norm, sample_weight
            )
            got = METRICS[name](
                y_true,
                y_prob,
                n_bins=5,
                strategy=strategy,
                norm=norm,
                sample_weight=sample_weight,
            )
            assert got == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_ece_of_float32_input_matches_reference():
    y_true, y_prob = random_problem(4, n_classes=6, dtype=np.float32)
    expected = reference_ece(y_true, y_prob, 15, "uniform", "l1")
    assert expected_calibration_error(y_true, y_prob) == pytest.approx(expected)


# ---------------------------------------------------------------------------
# Agreement with torchmetrics and netcal away from bin edges


def assert_no_confidence_near_an_edge(confidence, n_bins):
    edges = np.linspace(0, 1, n_bins + 1)
    distance = np.abs(np.asarray(confidence, dtype=np.float64)[:, None] - edges)
    assert distance.min() > 1e-6


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n_classes", [2, 3, 10])
@pytest.mark.parametrize("n_bins", [5, 15])
def test_ece_agrees_with_torchmetrics(norm, n_classes, n_bins):
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("torchmetrics.functional.classification")
    y_true, y_prob = random_problem(
        n_classes, n_samples=2000, n_classes=n_classes, dtype=np.float32
    )
    assert_no_confidence_near_an_edge(y_prob.max(axis=1), n_bins)
    expected = functional.multiclass_calibration_error(
        torch.from_numpy(y_prob),
        torch.from_numpy(y_true),
        num_classes=n_classes,
        n_bins=n_bins,
        norm=norm,
    ).item()
    got = expected_calibration_error(y_true, y_prob, n_bins=n_bins, norm=norm)
    assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("norm", NORMS)
def test_binary_1d_ece_agrees_with_torchmetrics_top_label(norm):
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("torchmetrics.functional.classification")
    rng = np.random.default_rng(5)
    p = rng.random(1000).astype(np.float32)
    y_true = (rng.random(1000) < p).astype(np.int64)
    two_columns = np.column_stack([1 - p, p])
    assert_no_confidence_near_an_edge(two_columns.max(axis=1), 15)
    expected = functional.multiclass_calibration_error(
        torch.from_numpy(two_columns),
        torch.from_numpy(y_true),
        num_classes=2,
        norm=norm,
    ).item()
    got = expected_calibration_error(y_true, p.astype(np.float64), norm=norm)
    assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n_classes", [2, 4])
def test_classwise_agrees_with_torchmetrics_binary_per_class(norm, n_classes):
    # classwise error = mean over columns of torchmetrics' binary (positive
    # class) calibration error of that column against "y == k"
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("torchmetrics.functional.classification")
    y_true, y_prob = random_problem(
        30 + n_classes, n_samples=1000, n_classes=n_classes, dtype=np.float32
    )
    assert_no_confidence_near_an_edge(y_prob.ravel(), 15)
    expected = np.mean(
        [
            functional.binary_calibration_error(
                torch.from_numpy(np.ascontiguousarray(y_prob[:, k])),
                torch.from_numpy((y_true == k).astype(np.int64)),
                norm=norm,
            ).item()
            for k in range(n_classes)
        ]
    )
    got = classwise_calibration_error(y_true, y_prob, norm=norm)
    assert got == pytest.approx(expected, abs=1e-6)


def test_binary_classwise_equals_torchmetrics_binary_calibration_error():
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("torchmetrics.functional.classification")
    rng = np.random.default_rng(23)
    p = rng.random(1000).astype(np.float32)
    y_true = (rng.random(1000) < p).astype(np.int64)
    assert_no_confidence_near_an_edge(p, 15)
    expected = functional.binary_calibration_error(
        torch.from_numpy(p), torch.from_numpy(y_true)
    ).item()
    got = classwise_calibration_error(y_true, p.astype(np.float64))
    assert got == pytest.approx(expected, abs=1e-6)


def test_ece_agrees_with_netcal():
    netcal_metrics = pytest.importorskip("netcal.metrics")
    y_true, y_prob = random_problem(6, n_samples=2000, n_classes=5)
    assert_no_confidence_near_an_edge(y_prob.max(axis=1), 15)
    expected = netcal_metrics.ECE(bins=15).measure(y_prob, y_true)
    assert expected_calibration_error(y_true, y_prob) == pytest.approx(
        expected, abs=1e-6
    )


# ---------------------------------------------------------------------------
# The documented edge convention, where implementations differ


def test_confidence_on_an_inner_edge_belongs_to_the_bin_above():
    # n_bins=4 has exact edges; 0.75 falls in [0.75, 1] with 0.8, not in
    # [0.5, 0.75): left-closed gives |0.5 - 0.775|, right-closed (0.25+0.8)/2.
    y_prob = [[0.75, 0.25], [0.8, 0.2]]
    assert expected_calibration_error([0, 1], y_prob, n_bins=4) == pytest.approx(0.275)


def test_confidence_on_the_first_inner_edge():
    # 0.5 is the edge between bins 1 and 2 of four; it joins 0.6, not 0.45
    y_prob = [[0.5, 0.5, 0.0], [0.6, 0.4, 0.0], [0.45, 0.3, 0.25]]
    got = expected_calibration_error([0, 1, 2], y_prob, n_bins=4, norm="max")
    # bin [0.5, 0.75): hits 1/2, conf 0.55 -> 0.05; bin [0.25, 0.5): 0.45
    assert got == pytest.approx(0.45)
    bins = _binning.top_label_bins([0, 1, 2], y_prob, n_bins=4)
    np.testing.assert_array_equal(bins.weight, [0, 1, 2, 0])


def test_confidence_one_is_in_the_last_bin():
    # torchmetrics puts confidence 1.0 in a bin of its own (0.525 here); we
    # put it in the last bin [14/15, 1] together with 0.95.
    y_prob = [[1.0, 0.0], [0.95, 0.05]]
    y_true = [1, 0]
    for norm in NORMS:
        got = expected_calibration_error(y_true, y_prob, norm=norm)
        assert got == pytest.approx(0.475)


def test_confidence_one_differs_from_torchmetrics_as_documented():
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("torchmetrics.functional.classification")
    y_prob = torch.tensor([[1.0, 0.0], [0.95, 0.05]])
    theirs = functional.multiclass_calibration_error(
        y_prob, torch.tensor([1, 0]), num_classes=2
    ).item()
    assert theirs == pytest.approx(0.525)
    assert expected_calibration_error([1, 0], y_prob.numpy()) == pytest.approx(0.475)


def test_tied_top_probabilities_predict_the_first_column():
    y_prob = [[0.5, 0.5], [0.5, 0.5]]
    assert expected_calibration_error([0, 0], y_prob, labels=[0, 1]) == 0.5
    assert expected_calibration_error([1, 1], y_prob, labels=[0, 1]) == 0.5
    assert expected_calibration_error([0, 1], y_prob) == pytest.approx(0.0)
    # the 1-D form agrees: p = 0.5 predicts the first class
    assert expected_calibration_error([0, 1], [0.5, 0.5]) == pytest.approx(0.0)
    bins = _binning.top_label_bins([1, 1], [0.5, 0.5], n_bins=2, labels=[0, 1])
    np.testing.assert_array_equal(bins.hit_sum, [0, 0])


def test_quantile_bins_hold_equal_mass():
    rng = np.random.default_rng(7)
    y_true, y_prob = random_problem(7, n_samples=100, n_classes=3)
    bins = _binning.top_label_bins(y_true, y_prob, n_bins=5, strategy="quantile")
    np.testing.assert_array_equal(bins.weight, [20] * 5)
    weight = rng.integers(1, 4, size=100)
    bins = _binning.top_label_bins(
        y_true, y_prob, n_bins=4, strategy="quantile", sample_weight=weight
    )
    # each bin stops at the sample that crosses a quarter of the weight
    assert np.all(bins.weight <= weight.sum() / 4 + weight.max())


def test_quantile_edges_are_samples_that_cross_the_mass_fraction():
    # ten distinct confidences and five bins: edges are the 3rd, 5th, 7th, 9th
    conf = np.linspace(0.55, 0.95, 10)
    edges = _binning.bin_edges(conf, None, 5, "quantile")
    np.testing.assert_array_equal(edges, [0, conf[2], conf[4], conf[6], conf[8], 1])
    ids = _binning.assign_bins(conf, edges, "quantile")
    np.testing.assert_array_equal(ids, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])


def test_quantile_with_all_confidences_equal_uses_the_last_bin():
    bins = _binning.top_label_bins(
        [0, 1, 1], [[0.6, 0.4]] * 3, n_bins=3, strategy="quantile"
    )
    np.testing.assert_array_equal(bins.edges, [0, 0.6, 0.6, 1])
    np.testing.assert_array_equal(bins.weight, [0, 0, 3])


def test_classwise_probabilities_zero_and_one_are_in_the_end_bins():
    y_prob = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]
    per_class = _binning.classwise_bins([0, 1, 0], y_prob, n_bins=2)
    np.testing.assert_array_equal(per_class[0].weight, [1, 2])  # 0 | 0.5, 1
    np.testing.assert_array_equal(per_class[0].hit_sum, [0, 2])
    np.testing.assert_array_equal(per_class[1].weight, [1, 2])
    np.testing.assert_array_equal(per_class[1].hit_sum, [0, 1])
    # class 0: |1 - 0.75| * 2/3 ; class 1: |0.5 - 0.75| * 2/3
    assert classwise_calibration_error([0, 1, 0], y_prob, n_bins=2) == (
        pytest.approx(1 / 6)
    )


def test_classwise_counts_classes_absent_from_y_true():
    y_prob = [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]]
    per_class = _binning.classwise_bins(
        ["a", "a"], y_prob, labels=["a", "b", "c"], n_bins=10
    )
    assert len(per_class) == 3
    # a: |1 - 0.65|; b: mean of |0 - 0.2| and |0 - 0.3|; c: 0.1
    expected = (0.35 + 0.25 + 0.1) / 3
    got = classwise_calibration_error(
        ["a", "a"], y_prob, labels=["a", "b", "c"], n_bins=10
    )
    assert got == pytest.approx(expected)


def test_perfectly_calibrated_bins_have_zero_error():
    # in each bin the accuracy equals the mean confidence
    y_prob = [[0.8, 0.2]] * 5 + [[0.4, 0.6]] * 5
    y_true = [0, 0, 0, 0, 1] + [1, 1, 1, 0, 0]
    for norm in NORMS:
        assert expected_calibration_error(y_true, y_prob, norm=norm) == pytest.approx(
            0.0, abs=1e-12
        )


# ---------------------------------------------------------------------------
# Generic properties, in the style of scikit-learn's metrics/tests/test_common.py


def all_metric_kwargs():
    return [{"strategy": s, "norm": n} for s in STRATEGIES for n in NORMS]


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("kwargs", all_metric_kwargs())
def test_sample_order_invariance(name, kwargs):
    metric = METRICS[name]
    y_true, y_prob = random_problem(8)
    order = np.random.default_rng(8).permutation(len(y_true))
    assert metric(y_true[order], y_prob[order], **kwargs) == pytest.approx(
        metric(y_true, y_prob, **kwargs), rel=1e-12
    )


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("kwargs", all_metric_kwargs())
def test_label_permutation_invariance(name, kwargs):
    # renaming class k to perm[k] and moving its column along changes nothing
    metric = METRICS[name]
    y_true, y_prob = random_problem(9, n_classes=5)
    perm = np.array([3, 0, 4, 1, 2])
    permuted_prob = np.empty_like(y_prob)
    permuted_prob[:, perm] = y_prob
    assert metric(perm[y_true], permuted_prob, **kwargs) == pytest.approx(
        metric(y_true, y_prob, **kwargs), rel=1e-12
    )


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("kwargs", all_metric_kwargs())
def test_labels_give_the_class_of_each_column_in_any_order(name, kwargs):
    # an estimator may have unsorted classes_; its columns follow classes_
    metric = METRICS[name]
    y_true, y_prob = random_problem(25, n_classes=4)
    classes = np.array(["ant", "bee", "cat", "dog"])
    order = np.array([2, 0, 3, 1])
    expected = metric(classes[y_true], y_prob, **kwargs)
    got = metric(classes[y_true], y_prob[:, order], labels=classes[order], **kwargs)
    assert got == pytest.approx(expected, rel=1e-12)
    # read in sorted order instead, the columns would mean other classes
    assert metric(
        classes[y_true], y_prob[:, order], labels=classes, **kwargs
    ) != pytest.approx(expected, rel=1e-6)


def test_binary_1d_probability_is_of_the_second_label():
    p = np.array([0.9, 0.8, 0.3, 0.2])
    y_true = np.array(["yes", "yes", "no", "no"])
    calibrated_for_yes = expected_calibration_error(y_true, p, labels=["no", "yes"])
    assert expected_calibration_error(y_true, p) == calibrated_for_yes
    assert expected_calibration_error(
        y_true, 1 - p, labels=["yes", "no"]
    ) == pytest.approx(calibrated_for_yes)
    assert expected_calibration_error(y_true, 1 - p) != pytest.approx(
        calibrated_for_yes
    )


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("kwargs", all_metric_kwargs())
@pytest.mark.parametrize(
    "classes",
    [
        np.array(["ant", "bee", "cat", "dog"]),
        np.array(["ant", "bee", "cat", "dog"], dtype=object),
        np.array([-3, 10, 11, 500]),
        # whole floats; others are refused as scikit-learn does ("continuous")
        np.array([-3.0, 10.0, 11.0, 500.0]),
    ],
)
def test_relabelling_invariance(name, kwargs, classes):
    metric = METRICS[name]
    y_true, y_prob = random_problem(10, n_classes=4)
    expected = metric(y_true, y_prob, **kwargs)
    assert metric(classes[y_true], y_prob, **kwargs) == pytest.approx(expected)
    assert metric(
        list(classes[y_true]), y_prob.tolist(), labels=classes, **kwargs
    ) == pytest.approx(expected)


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("kwargs", all_metric_kwargs())
def test_integer_sample_weight_equals_repetition(name, kwargs):
    metric = METRICS[name]
    y_true, y_prob = random_problem(11, n_samples=200)
    weight = np.random.default_rng(11).integers(0, 4, size=len(y_true))
    repeated = np.repeat(np.arange(len(y_true)), weight)
    assert metric(y_true, y_prob, sample_weight=weight, **kwargs) == pytest.approx(
        metric(y_true[repeated], y_prob[repeated], **kwargs), rel=1e-10, abs=1e-14
    )


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("kwargs", all_metric_kwargs())
def test_sample_weight_scale_invariance_and_unit_weights(name, kwargs):
    metric = METRICS[name]
    y_true, y_prob = random_problem(12)
    weight = np.random.default_rng(12).uniform(0.1, 2, size=len(y_true))
    weighted = metric(y_true, y_prob, sample_weight=weight, **kwargs)
    assert metric(y_true, y_prob, sample_weight=7.5 * weight, **kwargs) == (
        pytest.approx(weighted, rel=1e-10)
    )
    assert metric(
        y_true, y_prob, sample_weight=np.ones(len(y_true)), **kwargs
    ) == pytest.approx(metric(y_true, y_prob, **kwargs), rel=1e-12)
    # the weights matter: they are not silently ignored
    assert weighted != pytest.approx(metric(y_true, y_prob, **kwargs), rel=1e-6)


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("kwargs", all_metric_kwargs())
def test_binary_1d_equals_two_columns(name, kwargs):
    metric = METRICS[name]
    rng = np.random.default_rng(13)
    p = rng.random(150)
    y_true = np.where(rng.random(150) < p, "yes", "no")
    assert metric(y_true, p, **kwargs) == pytest.approx(
        metric(y_true, np.column_stack([1 - p, p]), **kwargs), rel=1e-12
    )
    assert metric(y_true, p[:, None], **kwargs) == metric(y_true, p, **kwargs)


@pytest.mark.parametrize("name", METRICS)
def test_format_invariance(name):
    # lists, float32, pandas objects and torch tensors give the same value
    metric = METRICS[name]
    y_true, y_prob = random_problem(26, n_classes=3, dtype=np.float32)
    expected = metric(y_true, y_prob)
    assert metric(list(y_true), y_prob.tolist()) == pytest.approx(expected)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(y_prob, columns=["a", "b", "c"])
    assert metric(pd.Series(y_true), frame) == expected
    torch = pytest.importorskip("torch")
    assert metric(torch.from_numpy(y_true), torch.from_numpy(y_prob)) == expected


@pytest.mark.parametrize("name", METRICS)
def test_labels_allow_classes_missing_from_y_true(name):
    metric = METRICS[name]
    y_true, y_prob = random_problem(14, n_classes=4)
    subset = y_true != 2
    classes = np.array(["a", "b", "c", "d"])
    got = metric(classes[y_true[subset]], y_prob[subset], labels=classes)
    assert got == pytest.approx(metric(y_true[subset], y_prob[subset], labels=range(4)))
    with pytest.raises(ValueError, match="3 classes.*4 columns"):
        metric(y_true[subset], y_prob[subset])


@pytest.mark.parametrize("name", METRICS)
def test_returns_a_python_float_in_unit_interval(name):
    y_true, y_prob = random_problem(15)
    for kwargs in all_metric_kwargs():
        value = METRICS[name](y_true, y_prob, **kwargs)
        assert type(value) is float
        assert 0 < value <= 1


@pytest.mark.parametrize("name", METRICS)
def test_norms_are_ordered(name):
    y_true, y_prob = random_problem(16)
    l1, l2, mx = (METRICS[name](y_true, y_prob, norm=n) for n in NORMS)
    assert l1 <= l2 <= mx
    assert l1 < mx


def test_classwise_differs_from_top_label():
    y_true, y_prob = random_problem(24, n_classes=5)
    assert classwise_calibration_error(y_true, y_prob) != pytest.approx(
        expected_calibration_error(y_true, y_prob), rel=1e-3
    )


# ---------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("bad, message", BAD_INPUTS)
def test_bad_input_raises_a_clear_value_error(name, bad, message):
    bad = dict(bad)  # the table is shared between the parametrized metrics
    y_prob = bad.pop("y_prob", GOOD_P)
    y_true = bad.pop("y_true", GOOD_Y)
    with pytest.raises(ValueError, match=message):
        METRICS[name](y_true, y_prob, **bad)


def test_good_input_of_the_bad_input_table_is_accepted():
    # the table above only fails because of what each case changes
    for metric in METRICS.values():
        assert metric(GOOD_Y, GOOD_P) >= 0
        assert metric([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.9]) >= 0


@pytest.mark.parametrize("name", METRICS)
def test_huge_weights_count_by_their_ratios(name):
    # weights of 1e308 overflow their sum; only their ratios matter
    huge = METRICS[name](GOOD_Y, GOOD_P, sample_weight=[1, 1e308, 1e308, 1])
    assert np.isfinite(huge)
    expected = METRICS[name](GOOD_Y, GOOD_P, sample_weight=[0, 1, 1, 0])
    assert huge == pytest.approx(expected, rel=1e-12)


def test_row_sum_tolerance():
    tolerance = _validation.SUM_TOLERANCE
    y_prob = np.array(GOOD_P)
    y_prob[0] *= 1 + tolerance / 2
    y_prob[0, 0] = min(y_prob[0, 0], 1.0)
    expected_calibration_error(GOOD_Y, y_prob)
    y_prob[1] *= 1 + 2 * tolerance
    with pytest.raises(ValueError, match="row 1 sums to"):
        expected_calibration_error(GOOD_Y, y_prob)


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "scale, value, message",
    [
        (1, np.nan, "NaN"),
        (1, np.inf, "infinity"),
        (1, -1e-3, r"\[0, 1\]"),
        (0.7, None, "row 997 sums to 0.7"),
    ],
)
def test_bad_values_are_found_in_any_block(
    monkeypatch, name, dtype, scale, value, message
):
    monkeypatch.setattr(_validation, "_BLOCK_BYTES", 512)
    y_true, y_prob = random_problem(17, n_samples=1000, n_classes=5, dtype=dtype)
    METRICS[name](y_true, y_prob)
    y_prob[997] *= scale
    if value is not None:
        y_prob[997, 1] = value
    with pytest.raises(ValueError, match=message):
        METRICS[name](y_true, y_prob)


def test_blocks_give_the_same_result_as_one_block(monkeypatch):
    y_true, y_prob = random_problem(18, n_samples=1000, n_classes=5)
    whole = expected_calibration_error(y_true, y_prob)
    monkeypatch.setattr(_validation, "_BLOCK_BYTES", 300)
    assert expected_calibration_error(y_true, y_prob) == whole


@pytest.mark.parametrize("n_bins", [1, 2, 3, 7, 10, 15, 49, 100, 1000])
def test_fast_uniform_bin_assignment_equals_searchsorted(n_bins):
    edges = np.linspace(0, 1, n_bins + 1)
    around = np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 1)])
    values = np.clip(
        np.concatenate([around, np.random.default_rng(n_bins).random(1000)]), 0, 1
    )
    for dtype in (np.float64, np.float32):
        values = values.astype(dtype).astype(np.float64)
        np.testing.assert_array_equal(
            _binning.assign_bins(values, edges, "uniform"),
            _binning.assign_bins(values, edges, "quantile"),
        )


@pytest.mark.parametrize("n_bins", [1, 2, 3, 7, 10, 15, 100, 364, 1000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_bins_of_float32_and_float64_values_equal_searchsorted(n_bins, dtype):
    # the values are binned in their own dtype (the classwise error bins
    # float32 blocks directly), including values one step around each edge
    edges = np.linspace(0, 1, n_bins + 1)
    at = edges.astype(dtype)
    around = np.concatenate(
        [at, np.nextafter(at, dtype(0)), np.nextafter(at, dtype(1))]
    )
    values = np.clip(
        np.concatenate([around, np.random.default_rng(n_bins).random(1000)]), 0, 1
    ).astype(dtype)
    np.testing.assert_array_equal(
        _binning.assign_bins(values, edges, "uniform"),
        np.searchsorted(edges[1:-1], values.astype(np.float64), side="right"),
    )
    out = np.empty(values.shape, dtype=np.intp)
    assert _binning.assign_bins(values, edges, "uniform", out=out) is out


def test_uniform_bin_guess_is_exact_where_it_is_trusted():
    # both paths of assign_bins are exercised by the test above
    assert _binning._uniform_thresholds(15, "f")[2]
    assert not _binning._uniform_thresholds(364, "f")[2]
    assert _binning._uniform_thresholds(15, "d")[2]
    assert not _binning._uniform_thresholds(7, "d")[2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_classwise_blocks_give_the_result_of_one_block(monkeypatch, dtype, weighted):
    y_true, y_prob = random_problem(27, n_samples=500, n_classes=7, dtype=dtype)
    weight = np.random.default_rng(27).uniform(0, 2, 500) if weighted else None
    whole = classwise_calibration_error(y_true, y_prob, sample_weight=weight)
    monkeypatch.setattr(_binning, "_BLOCK_ELEMENTS", 50)
    assert classwise_calibration_error(
        y_true, y_prob, sample_weight=weight
    ) == pytest.approx(whole, rel=1e-12)


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_not_modified(name, strategy, dtype):
    y_true, y_prob = random_problem(28, n_classes=3, dtype=dtype)
    weight = np.random.default_rng(28).uniform(0.5, 2, len(y_true))
    copies = y_true.copy(), y_prob.copy(), weight.copy()
    METRICS[name](y_true, y_prob, strategy=strategy, sample_weight=weight)
    for before, after in zip(copies, (y_true, y_prob, weight)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, 0, 3, 7]),
        np.array([3, 0, 3, 7], dtype=np.uint8),
        np.array([-2, 5, 5]),
        np.array([10**12, 1, 1]),
        np.array([True, False, True]),
        np.array(["b", "a", "b"]),
        np.array([0.5, 0.25, 0.5]),
    ],
)
def test_unique_labels_equal_numpy_unique(y):
    got = _validation._unique(y)
    np.testing.assert_array_equal(got, np.unique(y))
    assert got.dtype == y.dtype


def test_no_copy_of_the_probability_matrix():
    y_true, y_prob = random_problem(19, 200_000, n_classes=40, dtype=np.float32)
    tracemalloc.start()
    try:
        expected_calibration_error(y_true, y_prob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < y_prob.nbytes / 3


def test_fortran_ordered_input_gives_the_same_result():
    y_true, y_prob = random_problem(20, n_classes=5)
    assert expected_calibration_error(
        y_true, np.asfortranarray(y_prob)
    ) == expected_calibration_error(y_true, y_prob)


def test_docstring_examples():
    result = doctest.testmod(_calibration_error, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0

"""Tests of smooth_calibration_error (sklearn_gce.metrics._smooth)."""

import doctest

import numpy as np
import pytest
from _metric_cases import BAD_INPUTS, GOOD_P, GOOD_Y, random_problem
from scipy.integrate import trapezoid
from scipy.special import softmax

from sklearn_gce._testing import make_tempered_logits
from sklearn_gce.metrics import _smooth, smooth_calibration_error


def reference_smooth_error(confidence, hits, bandwidth, weight=None):
    """The definition, in float64 by brute force: every image of the kernel
    reflected at 0 and 1 within 12 bandwidths, summed point by point and
    integrated by the trapezoidal rule on a fine grid."""
    n_points = 20001 if bandwidth < 0.1 else 2001
    confidence = np.asarray(confidence, dtype=np.float64)
    weight = np.ones(confidence.size) if weight is None else np.asarray(weight)
    residual = weight * (confidence - hits)
    t = np.linspace(0, 1, n_points)
    smoothed = np.zeros(n_points)
    # images are 2 apart: those within 12 bandwidths of [0, 1]
    reach = int(np.ceil((12 * bandwidth + 1) / 2))
    for shift in range(-reach, reach + 1):
        for sign in (1, -1):
            distance = t[:, None] - (sign * confidence + 2 * shift)
            kernel = np.exp(-0.5 * (distance / bandwidth) ** 2)
            smoothed += kernel @ residual
    smoothed /= np.sqrt(2 * np.pi) * bandwidth
    return trapezoid(np.abs(smoothed), t) / weight.sum()


def top_label(y_true, y_prob):
    confidence = y_prob.max(axis=1)
    return confidence, (y_prob.argmax(axis=1) == y_true).astype(float)


def tempered_problem(seed, n_samples, temperature, n_classes=5):
    logits, y_true = make_tempered_logits(
        n_samples, n_classes, temperature, scale=2.0, random_state=seed
    )
    return y_true, softmax(logits, axis=1)


@pytest.mark.parametrize("bandwidth", [0.01, 0.05, 0.2, 1.0, 3.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_fixed_bandwidth_matches_brute_force_definition(bandwidth, weighted):
    y_true, y_prob = random_problem(40, n_samples=150, n_classes=3)
    # confidences exactly 1, where a kernel's mirror image falls on itself
    y_prob[:10] = [1.0, 0.0, 0.0]
    weight = np.random.default_rng(40).uniform(0, 2, 150) if weighted else None
    expected = reference_smooth_error(*top_label(y_true, y_prob), bandwidth, weight)
    got = smooth_calibration_error(
        y_true, y_prob, bandwidth=bandwidth, sample_weight=weight
    )
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("temperature", [1.0, 0.6, 2.0])
def test_auto_bandwidth_is_the_fixed_point(temperature):
    y_true, y_prob = tempered_problem(41, 2000, temperature)
    error = smooth_calibration_error(y_true, y_prob)
    assert _smooth.MIN_BANDWIDTH < error < 1
    at_itself = smooth_calibration_error(y_true, y_prob, bandwidth=error)
    assert at_itself == pytest.approx(error, abs=1e-7)
    # the error does not increase with the bandwidth (a wider kernel smooths
    # a narrower one's result), so the fixed point is unique
    errors = [
        smooth_calibration_error(y_true, y_prob, bandwidth=b)
        for b in (0.1 * error, 0.3 * error, error, 3 * error, 10 * error)
    ]
    assert np.all(np.diff(errors) <= 1e-12)


def test_error_is_not_below_the_mean_residual_and_reaches_it_when_one_sided():
    # |integral| <= integral of ||: the error bounds |mean(confidence - hit)|,
    # and equals it when every residual has the same sign
    y_true, y_prob = tempered_problem(42, 1000, 0.6)
    confidence, hits = top_label(y_true, y_prob)
    for bandwidth in (0.01, 0.1, 1.0):
        error = smooth_calibration_error(y_true, y_prob, bandwidth=bandwidth)
        assert error >= abs(np.mean(confidence - hits)) - 1e-12
    all_wrong = (y_prob.argmax(axis=1) + 1) % 5
    assert smooth_calibration_error(all_wrong, y_prob) == pytest.approx(
        confidence.mean(), rel=1e-9
    )


def test_perfect_certain_predictions_have_zero_error():
    y_prob = np.eye(3)[[0, 1, 2, 1, 0]]
    assert smooth_calibration_error([0, 1, 2, 1, 0], y_prob) == 0.0


def test_all_wrong_certain_predictions_have_error_one():
    y_prob = np.eye(3)[[0, 1, 2, 1, 0]]
    assert smooth_calibration_error([1, 2, 0, 0, 1], y_prob) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("temperature", [1.0, 0.7, 1.5])
def test_agrees_with_relplot(seed, temperature):
    relplot = pytest.importorskip("relplot")
    y_true, y_prob = tempered_problem(seed, 2000, temperature)
    confidence, hits = top_label(y_true, y_prob)
    theirs, bandwidth = relplot.smECE(confidence, hits, return_width=True)
    # relplot's bisection stops up to 2**-10 above the fixed point
    assert smooth_calibration_error(y_true, y_prob) == pytest.approx(theirs, abs=1e-3)
    at_theirs = smooth_calibration_error(y_true, y_prob, bandwidth=bandwidth)
    expected = relplot.smECE_sigma(confidence, hits, bandwidth)
    assert at_theirs == pytest.approx(expected, abs=5e-4)


def test_relplot_differs_where_it_truncates_the_kernel():
    # documented: relplot cuts the kernel at distance 0.5 and counts a
    # confidence of exactly 1 at half weight; we follow the definition
    relplot = pytest.importorskip("relplot")
    rng = np.random.default_rng(43)
    confidence = np.minimum(1, rng.beta(20, 1, 400))
    confidence[:80] = 1.0
    hits = (rng.random(400) < confidence**3).astype(float)
    y_prob = np.column_stack([confidence, 1 - confidence])
    y_true = np.where(hits == 1, 0, 1)
    bandwidth = 0.07
    ours = smooth_calibration_error(y_true, y_prob, bandwidth=bandwidth)
    assert ours == pytest.approx(
        reference_smooth_error(confidence, hits, bandwidth), rel=1e-5
    )
    assert abs(relplot.smECE_sigma(confidence, hits, bandwidth) - ours) > 1e-3


# ---------------------------------------------------------------------------
# Invariances and conventions shared with the binned errors


def test_sample_order_and_label_permutation_invariance():
    y_true, y_prob = random_problem(44, n_classes=5)
    expected = smooth_calibration_error(y_true, y_prob)
    order = np.random.default_rng(44).permutation(len(y_true))
    assert smooth_calibration_error(y_true[order], y_prob[order]) == pytest.approx(
        expected, rel=1e-12
    )
    perm = np.array([3, 0, 4, 1, 2])
    permuted = np.empty_like(y_prob)
    permuted[:, perm] = y_prob
    assert smooth_calibration_error(perm[y_true], permuted) == pytest.approx(
        expected, rel=1e-12
    )


def test_labels_give_the_class_of_each_column():
    y_true, y_prob = random_problem(45, n_classes=4)
    classes = np.array(["ant", "bee", "cat", "dog"])
    order = np.array([2, 0, 3, 1])
    expected = smooth_calibration_error(classes[y_true], y_prob)
    got = smooth_calibration_error(
        classes[y_true], y_prob[:, order], labels=classes[order]
    )
    assert got == pytest.approx(expected, rel=1e-12)


def test_integer_sample_weight_equals_repetition():
    y_true, y_prob = random_problem(46, n_samples=200)
    weight = np.random.default_rng(46).integers(0, 4, size=200)
    repeated = np.repeat(np.arange(200), weight)
    assert smooth_calibration_error(
        y_true, y_prob, sample_weight=weight
    ) == pytest.approx(
        smooth_calibration_error(y_true[repeated], y_prob[repeated]), rel=1e-9
    )
    assert smooth_calibration_error(
        y_true, y_prob, sample_weight=2.5 * weight
    ) == pytest.approx(smooth_calibration_error(y_true, y_prob, sample_weight=weight))


def test_binary_1d_equals_two_columns_and_float32_agrees():
    rng = np.random.default_rng(47)
    p = rng.random(300)
    y_true = (rng.random(300) < p).astype(int)
    expected = smooth_calibration_error(y_true, np.column_stack([1 - p, p]))
    assert smooth_calibration_error(y_true, p) == pytest.approx(expected, rel=1e-12)
    y_true, y_prob = random_problem(47, dtype=np.float32)
    assert smooth_calibration_error(y_true, y_prob) == pytest.approx(
        smooth_calibration_error(y_true, y_prob.astype(np.float64)), rel=1e-5
    )


def test_returns_a_python_float():
    assert type(smooth_calibration_error(GOOD_Y, GOOD_P)) is float
    assert type(smooth_calibration_error(GOOD_Y, GOOD_P, bandwidth=0.1)) is float


def test_huge_weights_count_by_their_ratios():
    huge = smooth_calibration_error(GOOD_Y, GOOD_P, sample_weight=[1, 1e308, 1e308, 1])
    expected = smooth_calibration_error(GOOD_Y, GOOD_P, sample_weight=[0, 1, 1, 0])
    assert huge == pytest.approx(expected, rel=1e-12)


SMOOTH_ARGUMENTS = {"y_true", "y_prob", "labels", "sample_weight"}


@pytest.mark.parametrize(
    "bad, message",
    [case for case in BAD_INPUTS if set(case[0]) <= SMOOTH_ARGUMENTS]
    + [
        ({"bandwidth": 0.0}, "bandwidth"),
        ({"bandwidth": 1e-5}, "bandwidth"),
        ({"bandwidth": -1.0}, "bandwidth"),
        ({"bandwidth": np.nan}, "bandwidth"),
        ({"bandwidth": "scott"}, "bandwidth"),
    ],
)
def test_bad_input_raises_a_clear_value_error(bad, message):
    bad = dict(bad)
    y_prob = bad.pop("y_prob", GOOD_P)
    y_true = bad.pop("y_true", GOOD_Y)
    with pytest.raises(ValueError, match=message):
        smooth_calibration_error(y_true, y_prob, **bad)


def test_docstring_examples():
    result = doctest.testmod(_smooth, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0

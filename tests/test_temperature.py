"""Tests of the ATS maths in sklearn_gce._temperature."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import log_softmax, softmax
from sklearn.calibration import _TemperatureScaling

from sklearn_gce import _temperature as ts
from sklearn_gce._testing import make_tempered_logits


def _reference_nll(log_temperature, logits, y, sample_weight=None):
    logp = log_softmax(logits / np.exp(log_temperature), axis=1)
    loss = -logp[np.arange(len(y)), y]
    return loss.sum() if sample_weight is None else loss @ sample_weight


@pytest.fixture
def data():
    return make_tempered_logits(3000, 5, 1.5, random_state=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logit_statistics_match_softmax(data, dtype):
    logits, y = data
    logits = logits.astype(dtype)
    top, gap, confidence = ts.logit_statistics(logits, y)
    z = logits.astype(np.float64)
    assert_allclose(top, z.max(axis=1))
    assert_allclose(gap, z.max(axis=1) - z[np.arange(len(y)), y])
    assert_allclose(confidence, softmax(z, axis=1).max(axis=1), rtol=1e-12)


@pytest.mark.parametrize("cache_bytes", [0, 2**16, 2**27])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("subset", [False, True])
def test_tempered_nll_matches_reference(data, cache_bytes, weighted, subset):
    logits, y = data
    rng = np.random.default_rng(0)
    sample_weight = rng.uniform(0, 3, len(y)) if weighted else None
    rows = np.sort(rng.choice(len(y), 700, replace=False)) if subset else None
    top, gap, _ = ts.logit_statistics(logits, y)
    nll = ts.TemperedNLL(logits, top, gap, sample_weight, rows, cache_bytes)
    keep = slice(None) if rows is None else rows
    weights = None if sample_weight is None else sample_weight[keep]
    for t in [-2.0, 0.0, 0.7]:
        expected = _reference_nll(t, logits[keep], y[keep], weights)
        assert_allclose(nll(t), expected, rtol=1e-12)


def test_tempered_nll_is_finite_on_extreme_logits():
    logits = np.array([[1e300, -1e300, 0.0], [-1e308, 1e308, 5.0], [1.0, 1.0, 1.0]])
    y = np.array([1, 1, 2])
    top, gap, confidence = ts.logit_statistics(logits, y)
    nll = ts.TemperedNLL(logits, top, gap)
    assert np.isfinite(confidence).all()
    for t in ts.LOG_TEMPERATURE_BOUNDS:
        assert np.isfinite(nll(t))


def test_quantile_edges_make_equal_mass_bins():
    confidence = np.linspace(0.2, 1.0, 1000)
    edges = ts.quantile_edges(confidence, 4)
    counts = np.bincount(ts.bin_confidences(confidence, edges))
    assert_array_equal(counts, [250, 250, 250, 250])
    assert np.all(edges > confidence.min()) and np.all(edges < confidence.max())


def test_quantile_edges_with_ties_and_identical_values():
    assert ts.quantile_edges(np.full(100, 0.7), 10).size == 0
    # 90% of the samples share one confidence: that tie cannot be split
    confidence = np.r_[np.full(90, 0.5), np.linspace(0.6, 0.9, 10)]
    edges = ts.quantile_edges(confidence, 10)
    counts = np.bincount(ts.bin_confidences(confidence, edges))
    assert counts[0] == 90
    assert len(edges) == len(np.unique(edges)) < 9


def test_quantile_edges_integer_weights_act_as_repetitions():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.1, 1.0, 200)
    weight = rng.integers(0, 4, 200).astype(float)
    repeated = np.repeat(confidence, weight.astype(int))
    assert_array_equal(
        ts.quantile_edges(confidence, 7, weight), ts.quantile_edges(repeated, 7)
    )


def test_bin_convention_is_the_metrics_one():
    # [e_b, e_{b+1}): a value on an edge goes to the bin above, as in metrics
    edges = np.array([0.4, 0.7])
    bins = ts.bin_confidences(np.array([0.1, 0.4, 0.41, 0.7, 0.9, 1.0]), edges)
    assert_array_equal(bins, [0, 1, 1, 2, 2, 2])


def test_uniform_edges():
    assert_allclose(ts.uniform_edges(3, 4), [0.5, 0.75])
    assert ts.uniform_edges(1, 4).size == 0


@pytest.mark.parametrize(
    "weights, min_weight, expected",
    [
        ([10, 10, 10], 5, [1.0, 2.0]),
        ([10, 1, 10], 5, [2.0]),  # tie between neighbours: merge to the left
        ([1, 10, 10], 5, [2.0]),
        ([10, 10, 1], 5, [1.0]),
        ([0, 0, 0], 5, []),
        ([3, 3, 3, 3], 6, [2.0]),
    ],
)
def test_merge_small_bins(weights, min_weight, expected):
    edges = np.arange(1.0, len(weights))
    merged = ts.merge_small_bins(edges, np.array(weights, float), min_weight)
    assert_array_equal(merged, expected)


def test_fit_log_temperature_recovers_the_true_temperature():
    logits, y = make_tempered_logits(20000, 4, 2.0, random_state=0)
    top, gap, _ = ts.logit_statistics(logits, y)
    t, value = ts.fit_log_temperature(ts.TemperedNLL(logits, top, gap))
    assert abs(np.exp(t) - 2.0) < 0.1
    assert value == pytest.approx(_reference_nll(t, logits, y))


@pytest.mark.parametrize("around", [None, 0.0, 5.0, -9.5])
def test_fit_log_temperature_bracket_never_changes_the_minimiser(around):
    def objective(t):
        return (t - 3.0) ** 2

    t, _ = ts.fit_log_temperature(objective, around=around)
    assert t == pytest.approx(3.0, abs=1e-6)
    t, _ = ts.fit_log_temperature(lambda t: -t, around=around)  # at the bound
    assert t == pytest.approx(ts.LOG_TEMPERATURE_BOUNDS[1], abs=1e-4)


@pytest.mark.parametrize("n_classes", [2, 6])
def test_one_bin_is_scikit_learn_temperature_scaling(n_classes):
    logits, y = make_tempered_logits(2000, n_classes, 0.6, random_state=0)
    edges, temperatures, global_t = ts.fit_adaptive_temperatures(logits, y, n_bins=1)
    assert edges.size == 0
    assert temperatures[0] == global_t
    reference = _TemperatureScaling().fit(logits, y)
    assert_allclose(1 / global_t, reference.beta_, rtol=1e-6)


def _step_temperature(confidence):
    return np.where(confidence < 0.6, 0.5, 2.0)


def test_bins_recover_confidence_dependent_temperatures():
    logits, y = make_tempered_logits(40000, 5, _step_temperature, random_state=0)
    edges, temperatures, global_t = ts.fit_adaptive_temperatures(
        logits, y, n_bins=8, min_samples_per_bin=50
    )
    centres = np.r_[0.2, edges] + np.diff(np.r_[0.2, edges, 1.0]) / 2
    far = np.abs(centres - 0.6) > 0.1  # bins that do not straddle the step
    assert_allclose(temperatures[far], _step_temperature(centres[far]), rtol=0.15)
    assert 0.5 < global_t < 2.0


@pytest.mark.parametrize("n_bins", [5, 30])
def test_one_true_temperature_pools_to_temperature_scaling(n_bins):
    logits, y = make_tempered_logits(5000, 5, 1.7, random_state=0)
    _, temperatures, global_t = ts.fit_adaptive_temperatures(
        logits, y, n_bins=n_bins, min_samples_per_bin=50
    )
    assert len(temperatures) == n_bins
    assert_allclose(temperatures, global_t, rtol=0.02)
    _, alone, _ = ts.fit_adaptive_temperatures(
        logits, y, n_bins=n_bins, min_samples_per_bin=50, shrinkage=False
    )
    assert np.ptp(np.log(alone)) > 5 * np.ptp(np.log(temperatures))


def test_between_bin_variance():
    variances = np.full(4, 0.01)
    assert ts.between_bin_variance(np.zeros(4), variances) == 0.0
    # spread well beyond the noise: about the spread itself, minus the noise
    t = np.array([-1.0, 0.0, 1.0, 2.0])
    assert ts.between_bin_variance(t, variances) == pytest.approx(
        np.var(t, ddof=1) - 0.01
    )
    # bins with infinite variance do not count
    assert ts.between_bin_variance(t, np.r_[0.01, np.inf, np.inf, np.inf]) == 0.0


def _make_top_bin(fix):
    """Data whose most confident third is all right (or all wrong)."""
    logits, y = make_tempered_logits(3000, 3, 1.0, random_state=0)
    _, _, confidence = ts.logit_statistics(logits, y)
    confident = confidence > np.quantile(confidence, 2 / 3)
    y[confident] = (logits[confident].argmax(axis=1) + fix) % 3
    return logits, y


@pytest.mark.parametrize("shrinkage", [True, False])
@pytest.mark.parametrize("fix, direction", [(0, -1), (1, 1)], ids=["right", "wrong"])
def test_bin_of_only_right_or_only_wrong_samples(shrinkage, fix, direction):
    # alone, such a bin's loss keeps falling as T -> 0 (all right) or
    # T -> inf (all wrong): its temperature must stay finite and moderate
    logits, y = _make_top_bin(fix)
    _, temperatures, global_t = ts.fit_adaptive_temperatures(
        logits, y, n_bins=3, shrinkage=shrinkage
    )
    assert np.isfinite(temperatures).all() and (temperatures > 0).all()
    top = np.log(temperatures[-1] / global_t)
    if shrinkage:  # the prior lets the data move it, the right way, not far
        assert 0 < direction * top < 3
    else:  # the flat loss says nothing: the global temperature
        assert top == 0


def test_pilot_gives_the_same_fit(monkeypatch):
    logits, y = make_tempered_logits(6000, 4, _step_temperature, random_state=0)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    full = ts.fit_adaptive_temperatures(logits, y, n_bins=4, sample_weight=weight)
    monkeypatch.setattr(ts, "_PILOT_ROWS", 1000)
    piloted = ts.fit_adaptive_temperatures(logits, y, n_bins=4, sample_weight=weight)
    assert_array_equal(full[0], piloted[0])
    assert_allclose(full[1], piloted[1], rtol=1e-5)
    assert_allclose(full[2], piloted[2], rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tempered_softmax_applies_the_bin_temperature(dtype):
    logits, y = make_tempered_logits(5000, 4, _step_temperature, random_state=0)
    logits = logits.astype(dtype)
    edges, temperatures, _ = ts.fit_adaptive_temperatures(logits, y, n_bins=6)
    _, _, confidence = ts.logit_statistics(logits, y)
    bins = ts.bin_confidences(confidence, edges)
    proba = ts.tempered_softmax(logits, edges, temperatures)
    expected = softmax(logits.astype(np.float64) / temperatures[bins, None], axis=1)
    assert proba.dtype == np.float64
    assert_allclose(proba, expected, rtol=1e-10, atol=1e-300)
    assert_array_equal(proba.argmax(axis=1), logits.argmax(axis=1))


def test_tempered_softmax_on_extreme_logits():
    logits = np.array([[1e300, -1e300, 0.0], [-1e308, 1e308, 5.0], [1.0, 1.0, 1.0]])
    for temperatures in ([np.exp(-10.0)], [0.5, 3.0]):
        edges = np.array([0.5]) if len(temperatures) == 2 else np.empty(0)
        proba = ts.tempered_softmax(logits, edges, np.array(temperatures))
        assert np.isfinite(proba).all()
        assert_allclose(proba.sum(axis=1), 1.0)
        assert_allclose(proba[2], 1 / 3)

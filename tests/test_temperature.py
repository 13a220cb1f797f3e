"""Tests of the ATS maths in sklearn_gce._temperature."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize_scalar
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
    stats = ts.logit_statistics(logits, y)
    z = logits.astype(np.float64)
    top = z.max(axis=1)
    p = softmax(z, axis=1)
    assert_allclose(stats.top, top)
    assert_allclose(stats.gap, top - z[np.arange(len(y)), y])
    assert_allclose(stats.confidence, p.max(axis=1), rtol=1e-12)
    assert_allclose(stats.model_gap, (p * (top[:, None] - z)).sum(axis=1))
    assert_allclose(stats.spread, top - z.mean(axis=1))


def test_logit_statistics_are_finite_on_extreme_logits():
    logits = np.array([[1e300, -1e300, 0.0], [-1e308, 1e308, 5.0], [1.0, 1.0, 1.0]])
    stats = ts.logit_statistics(logits, np.array([1, 1, 2]))
    assert_allclose(stats.confidence, [1.0, 1.0, 1 / 3])
    assert_allclose(stats.model_gap, 0.0, atol=1e-300)
    assert stats.spread[2] == 0.0 and (stats.spread[:2] > 1e299).all()


@pytest.mark.parametrize("cache_bytes", [0, 2**16, 2**27])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("subset", [False, True])
def test_tempered_nll_matches_reference(data, cache_bytes, weighted, subset):
    logits, y = data
    rng = np.random.default_rng(0)
    sample_weight = rng.uniform(0, 3, len(y)) if weighted else None
    rows = np.sort(rng.choice(len(y), 700, replace=False)) if subset else None
    stats = ts.logit_statistics(logits, y)
    nll = ts.TemperedNLL(logits, stats.top, stats.gap, sample_weight, rows, cache_bytes)
    keep = slice(None) if rows is None else rows
    weights = None if sample_weight is None else sample_weight[keep]
    for t in [-2.0, 0.0, 0.7]:
        expected = _reference_nll(t, logits[keep], y[keep], weights)
        assert_allclose(nll(t), expected, rtol=1e-12)


def test_tempered_nll_is_finite_on_extreme_logits():
    logits = np.array([[1e300, -1e300, 0.0], [-1e308, 1e308, 5.0], [1.0, 1.0, 1.0]])
    y = np.array([1, 1, 2])
    stats = ts.logit_statistics(logits, y)
    nll = ts.TemperedNLL(logits, stats.top, stats.gap)
    for t in ts.search_interval(stats.spread):
        assert np.isfinite(nll(t))


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e5])
def test_search_interval_follows_the_scale_of_the_logits(data, scale):
    logits, y = data
    low, high = ts.search_interval(ts.logit_statistics(scale * logits, y).spread)
    reference = ts.search_interval(ts.logit_statistics(logits, y).spread)
    assert_allclose([low, high], np.add(reference, np.log(scale)))
    assert high - low == 2 * ts.LOG_TEMPERATURE_HALF_WIDTH
    assert ts.search_interval(np.zeros(5)) == (-10.0, 10.0)  # constant rows


def test_search_interval_weights_act_as_repetitions():
    rng = np.random.default_rng(0)
    spread = rng.uniform(0, 10, 50)
    spread[:5] = 0.0  # constant rows do not count
    weight = rng.integers(0, 4, 50)
    repeated = np.repeat(spread, weight)
    assert ts.search_interval(spread, weight) == ts.search_interval(repeated)
    # the lower median of the positive spreads
    positive = np.sort(repeated[repeated > 0])
    centre = positive[(positive.size - 1) // 2]
    assert ts.search_interval(repeated)[0] == pytest.approx(np.log(centre) - 10)


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
    stats = ts.logit_statistics(logits, y)
    objective = ts.TemperedNLL(logits, stats.top, stats.gap)
    t, value = ts.fit_log_temperature(objective, (-10.0, 10.0))
    assert abs(np.exp(t) - 2.0) < 0.1
    assert value == pytest.approx(_reference_nll(t, logits, y))


@pytest.mark.parametrize("around", [None, 0.0, 5.0, -9.5])
def test_fit_log_temperature_bracket_never_changes_the_minimiser(around):
    def objective(t):
        return (t - 3.0) ** 2

    t, _ = ts.fit_log_temperature(objective, (-10.0, 10.0), around=around)
    assert t == pytest.approx(3.0, abs=1e-6)
    t, _ = ts.fit_log_temperature(lambda t: -t, (-10.0, 10.0), around=around)
    assert t == pytest.approx(10.0, abs=1e-4)  # at the bound


@pytest.mark.parametrize("n_classes", [2, 6])
def test_one_bin_without_prior_is_scikit_learn_temperature_scaling(n_classes):
    logits, y = make_tempered_logits(2000, n_classes, 0.6, random_state=0)
    fit = ts.fit_adaptive_temperatures(logits, y, n_bins=1, prior_samples=0.0)
    assert fit.inner_edges.size == 0 and fit.degenerate is None
    assert fit.temperatures[0] == fit.global_temperature
    reference = _TemperatureScaling().fit(logits, y)
    assert_allclose(1 / fit.global_temperature, reference.beta_, rtol=1e-6)


def _reference_prior_loss(log_temperature, logits, y, prior_samples):
    """Log-loss plus prior_samples pseudo-samples labelled by softmax(logits)."""
    logp = log_softmax(logits / np.exp(log_temperature), axis=1)
    pseudo = -(softmax(logits, axis=1) * logp).sum(axis=1).mean()
    return _reference_nll(log_temperature, logits, y) + prior_samples * pseudo


@pytest.mark.parametrize("prior_samples", [1.0, 5.0])
def test_prior_adds_pseudo_samples_from_the_model(prior_samples):
    logits, y = make_tempered_logits(60, 4, 2.5, random_state=3)
    fit = ts.fit_adaptive_temperatures(logits, y, n_bins=1, prior_samples=prior_samples)
    reference = minimize_scalar(
        _reference_prior_loss, bounds=(-5, 5), args=(logits, y, prior_samples)
    )
    assert_allclose(np.log(fit.global_temperature), reference.x, atol=1e-4)
    alone = ts.fit_adaptive_temperatures(logits, y, n_bins=1, prior_samples=0.0)
    # the pseudo-samples pull toward T = 1, more so when they weigh more
    assert 1.0 < fit.global_temperature < alone.global_temperature


def test_prior_fades_as_samples_grow():
    shifts = []
    for n in (500, 5000):
        logits, y = make_tempered_logits(n, 5, 2.0, random_state=0)
        fits = [
            ts.fit_adaptive_temperatures(logits, y, n_bins=1, prior_samples=prior)
            for prior in (0.0, 1.0)
        ]
        shifts.append(np.log(fits[0].global_temperature / fits[1].global_temperature))
    assert 0 < shifts[1] < shifts[0] / 5


def test_standard_error_of_the_global_temperature():
    logits, y = make_tempered_logits(160_000, 5, 2.0, random_state=0)
    spread = []
    for n in (1000, 4000):
        fits = [
            ts.fit_adaptive_temperatures(
                logits[i * n : (i + 1) * n], y[i * n : (i + 1) * n], n_bins=1
            )
            for i in range(40)
        ]
        estimated = np.median([fit.log_temperature_se for fit in fits])
        spread.append(np.std([np.log(fit.global_temperature) for fit in fits]))
        assert estimated == pytest.approx(spread[-1], rel=0.35)
    assert spread[1] < spread[0]


def _step_temperature(confidence):
    return np.where(confidence < 0.6, 0.5, 2.0)


def test_bins_recover_confidence_dependent_temperatures():
    logits, y = make_tempered_logits(40000, 5, _step_temperature, random_state=0)
    fit = ts.fit_adaptive_temperatures(logits, y, n_bins=8, min_samples_per_bin=50)
    edges = fit.inner_edges
    centres = np.r_[0.2, edges] + np.diff(np.r_[0.2, edges, 1.0]) / 2
    far = np.abs(centres - 0.6) > 0.1  # bins that do not straddle the step
    expected = _step_temperature(centres[far])
    assert_allclose(fit.temperatures[far], expected, rtol=0.15)
    assert 0.5 < fit.global_temperature < 2.0


@pytest.mark.parametrize("n_bins", [5, 30])
def test_one_true_temperature_pools_to_temperature_scaling(n_bins):
    logits, y = make_tempered_logits(5000, 5, 1.7, random_state=0)
    fit = ts.fit_adaptive_temperatures(logits, y, n_bins=n_bins, min_samples_per_bin=50)
    assert len(fit.temperatures) == n_bins
    assert_allclose(fit.temperatures, fit.global_temperature, rtol=0.02)
    alone = ts.fit_adaptive_temperatures(
        logits, y, n_bins=n_bins, min_samples_per_bin=50, shrinkage=False
    ).temperatures
    assert np.ptp(np.log(alone)) > 5 * np.ptp(np.log(fit.temperatures))


def test_between_bin_variance():
    variances = np.full(4, 0.01)
    assert ts.between_bin_variance(np.zeros(4), variances) == 0.0
    # spread well beyond the noise: about the spread itself, minus the noise
    # (the 95th percentile of chi2 with 3 degrees of freedom, 7.81, in place
    # of its mean, 3, as Q = 3 var / 0.01 exceeds it)
    t = np.array([-1.0, 0.0, 1.0, 2.0])
    expected = np.var(t, ddof=1) - 7.8147 * 0.01 / 3
    assert ts.between_bin_variance(t, variances) == pytest.approx(expected, rel=1e-4)
    # a scatter of twice the noise, Q = 6 < 7.81: not told from noise
    assert ts.between_bin_variance(np.sqrt(0.02) * t / t.std(ddof=1), variances) == 0
    # no true spread: positive in 5% of draws only
    rng = np.random.default_rng(0)
    draws = rng.normal(0, 0.1, (1000, 8))
    positive = [ts.between_bin_variance(t, np.full(8, 0.01)) > 0 for t in draws]
    assert np.mean(positive) == pytest.approx(ts.HETEROGENEITY_LEVEL, abs=0.02)
    # bins with infinite variance do not count, and two bins are too few
    assert ts.between_bin_variance(t, np.r_[0.01, 0.01, np.inf, np.inf]) == 0.0
    assert ts.between_bin_variance(t, np.r_[0.01, 0.01, 0.01, np.inf]) > 0.0


def _make_top_bin(fix):
    """Data whose most confident third is all right (or all wrong)."""
    logits, y = make_tempered_logits(3000, 3, 1.0, random_state=0)
    confidence = ts.logit_statistics(logits, y).confidence
    confident = confidence > np.quantile(confidence, 2 / 3)
    y[confident] = (logits[confident].argmax(axis=1) + fix) % 3
    return logits, y


@pytest.mark.parametrize("shrinkage", [True, False])
@pytest.mark.parametrize("fix", [0, 1], ids=["right", "wrong"])
def test_bin_of_only_right_or_only_wrong_samples(shrinkage, fix):
    # alone, such a bin's loss keeps falling as T -> 0 (all right) or
    # T -> inf (all wrong): it must not enter the spread between bins, and its
    # temperature must stay finite and moderate
    logits, y = _make_top_bin(fix)
    fit = ts.fit_adaptive_temperatures(logits, y, n_bins=6, shrinkage=shrinkage)
    temperatures = fit.temperatures
    assert np.isfinite(temperatures).all() and (temperatures > 0).all()
    top = np.log(temperatures[-2:] / fit.global_temperature)
    if shrinkage:  # the prior N(t_global, tau2) keeps it near the global one
        assert np.all(np.abs(top) < 1)
    else:  # the flat loss says nothing: the global temperature
        assert_array_equal(top, 0)


@pytest.mark.parametrize("n_bins", [1, 5])
def test_every_sample_right_keeps_the_scores_as_they_are(n_bins):
    # the log-loss keeps falling as T -> 0: no temperature can be chosen
    logits, _ = make_tempered_logits(400, 4, 1.0, random_state=0)
    y = logits.argmax(axis=1)
    fit = ts.fit_adaptive_temperatures(logits, y, n_bins=n_bins)
    assert fit.degenerate == "all_correct"
    assert_array_equal(fit.temperatures, [1.0])
    assert fit.global_temperature == 1.0 and fit.inner_edges.size == 0
    # wrong samples of zero weight do not count
    y[:10] = (y[:10] + 1) % 4
    weight = np.r_[np.zeros(10), np.ones(390)]
    fit = ts.fit_adaptive_temperatures(logits, y, n_bins=n_bins, sample_weight=weight)
    assert fit.degenerate == "all_correct"


def test_scores_no_better_than_chance_end_on_the_upper_bound():
    logits, _ = make_tempered_logits(300, 2, 1.0, random_state=0)
    y = logits.argmin(axis=1)  # every sample wrong
    fit = ts.fit_adaptive_temperatures(logits, y, n_bins=1)
    assert fit.degenerate == "at_bound"
    assert np.log(fit.global_temperature) == pytest.approx(fit.bounds[1], abs=1e-4)
    proba = ts.tempered_softmax(logits, fit.inner_edges, fit.temperatures)
    assert_allclose(proba, 0.5, atol=1e-3)


@pytest.mark.parametrize("scale", [1e-3, 1e5, 1e290])
def test_temperature_follows_the_scale_of_the_logits(scale):
    # logits of 1e5 need T of about 1e5 (beyond scikit-learn's e^10 = 2.2e4);
    # the bins would change (they split the uncalibrated confidences), and the
    # pseudo-sample pulls toward T = 1, which is not scale-free
    logits, y = make_tempered_logits(3000, 5, 2.3, random_state=0)
    for prior, rtol in [(0.0, 1e-5), (ts.PRIOR_SAMPLES, 1e-2)]:
        fit = ts.fit_adaptive_temperatures(logits, y, n_bins=1, prior_samples=prior)
        scaled = ts.fit_adaptive_temperatures(
            scale * logits, y, n_bins=1, prior_samples=prior
        )
        assert scaled.degenerate is None
        ratio = scaled.global_temperature / scale / fit.global_temperature
        assert ratio == pytest.approx(1.0, rel=rtol)
    proba = ts.tempered_softmax(scale * logits, scaled.inner_edges, scaled.temperatures)
    expected = ts.tempered_softmax(logits, fit.inner_edges, fit.temperatures)
    assert_allclose(proba, expected, atol=1e-3)


def test_pilot_gives_the_same_fit(monkeypatch):
    logits, y = make_tempered_logits(6000, 4, _step_temperature, random_state=0)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    full = ts.fit_adaptive_temperatures(logits, y, n_bins=4, sample_weight=weight)
    monkeypatch.setattr(ts, "_PILOT_ROWS", 1000)
    piloted = ts.fit_adaptive_temperatures(logits, y, n_bins=4, sample_weight=weight)
    assert_array_equal(full.inner_edges, piloted.inner_edges)
    assert_allclose(full.temperatures, piloted.temperatures, rtol=1e-5)
    assert_allclose(full.global_temperature, piloted.global_temperature, rtol=1e-5)
    # the standard error comes from the pilot's 1000 rows, scaled
    assert_allclose(piloted.log_temperature_se, full.log_temperature_se, rtol=0.2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tempered_softmax_applies_the_bin_temperature(dtype):
    logits, y = make_tempered_logits(5000, 4, _step_temperature, random_state=0)
    logits = logits.astype(dtype)
    fit = ts.fit_adaptive_temperatures(logits, y, n_bins=6)
    edges, temperatures = fit.inner_edges, fit.temperatures
    confidence = ts.logit_statistics(logits, y).confidence
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

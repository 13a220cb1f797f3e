"""Tests of sklearn_gce.metrics._reliability (rendered with matplotlib's Agg)."""

import doctest
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gce.metrics import (
    ReliabilityDisplay,
    _reliability,
    expected_calibration_error,
)
from sklearn_gce.metrics._binning import top_label_bins

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits_model():
    X, y = load_digits(return_X_y=True)
    return GaussianNB().fit(X[:900], y[:900]), X[900:], y[900:]


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def bar_geometry(container):
    return np.array(
        [
            (bar.get_x(), bar.get_width(), bar.get_y(), bar.get_height())
            for bar in container
        ]
    )


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_bars_are_the_accuracy_of_the_non_empty_bins(digits_model, strategy):
    model, X, y = digits_model
    display = ReliabilityDisplay.from_estimator(
        model, X, y, n_bins=10, strategy=strategy
    )
    y_prob = model.predict_proba(X)
    bins = top_label_bins(y, y_prob, n_bins=10, strategy=strategy)
    filled = bins.weight > 0
    if strategy == "uniform":
        assert 0 < filled.sum() < 10  # some bins are empty and get no bar

    geometry = bar_geometry(display.bars_)
    assert len(display.bars_) == filled.sum()
    np.testing.assert_allclose(geometry[:, 0], bins.edges[:-1][filled])
    np.testing.assert_allclose(geometry[:, 1], np.diff(bins.edges)[filled])
    np.testing.assert_allclose(geometry[:, 2], 0)
    np.testing.assert_allclose(geometry[:, 3], bins.accuracy[filled])
    # by hand, for one bin: the fraction of correct top-label predictions
    confidence, predicted = y_prob.max(axis=1), y_prob.argmax(axis=1)
    last = (confidence >= bins.edges[-2]) & (confidence <= 1)
    assert geometry[-1, 3] == pytest.approx(np.mean(predicted[last] == y[last]))


def test_gap_bars_go_from_accuracy_to_mean_confidence(digits_model):
    model, X, y = digits_model
    display = ReliabilityDisplay.from_estimator(model, X, y, n_bins=10)
    confidence = display.confidence[display.bin_weight > 0]
    accuracy = display.accuracy[display.bin_weight > 0]
    geometry = bar_geometry(display.gap_bars_)
    assert len(display.gap_bars_) == len(display.bars_)
    np.testing.assert_allclose(geometry[:, 2], accuracy)
    np.testing.assert_allclose(geometry[:, 2] + geometry[:, 3], confidence)
    assert np.any(geometry[:, 3] != 0)


def test_histogram_shows_the_fraction_of_samples_per_bin(digits_model):
    model, X, y = digits_model
    weight = np.random.default_rng(0).integers(1, 4, size=len(y))
    display = ReliabilityDisplay.from_estimator(
        model, X, y, n_bins=10, sample_weight=weight
    )
    bins = top_label_bins(y, model.predict_proba(X), n_bins=10, sample_weight=weight)
    filled = bins.weight > 0
    heights = bar_geometry(display.hist_bars_)[:, 3]
    np.testing.assert_allclose(heights, bins.weight[filled] / weight.sum())
    assert heights.sum() == pytest.approx(1)
    assert display.hist_ax_ is not display.ax_
    assert display.hist_ax_.figure is display.figure_
    assert display.hist_ax_.get_xlabel() == "Confidence"


def test_legend_shows_the_ece_of_the_same_bins(digits_model):
    model, X, y = digits_model
    display = ReliabilityDisplay.from_estimator(model, X, y, n_bins=12)
    ece = expected_calibration_error(y, model.predict_proba(X), n_bins=12)
    assert display.ece == pytest.approx(ece, rel=1e-12)
    assert f"GaussianNB (ECE = {ece:.4f})" in legend_texts(display.ax_)
    assert "Gap" in legend_texts(display.ax_)
    assert "Perfectly calibrated" in legend_texts(display.ax_)


def test_ax_reuse_and_figure(digits_model):
    model, X, y = digits_model
    fig, (left, right) = plt.subplots(1, 2)
    first = ReliabilityDisplay.from_estimator(model, X, y, ax=left, name="first")
    second = ReliabilityDisplay.from_estimator(
        model, X, y, ax=right, name="second", show_histogram=False
    )
    assert first.ax_ is left and second.ax_ is right
    assert first.figure_ is fig and second.figure_ is fig
    assert any("first" in text for text in legend_texts(left))
    assert any("second" in text for text in legend_texts(right))
    assert not any("second" in text for text in legend_texts(left))
    # replotting an existing display on a new axes draws there
    fig2, ax2 = plt.subplots()
    first.plot(ax=ax2, name="again")
    assert first.ax_ is ax2 and first.figure_ is fig2
    assert any("again" in text for text in legend_texts(ax2))


def test_without_ax_a_new_figure_is_created(digits_model):
    model, X, y = digits_model
    display = ReliabilityDisplay.from_estimator(model, X, y)
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_ylabel() == "Accuracy"
    assert display.ax_.get_xlim() == (0, 1)


def test_options_turn_parts_off_and_kwargs_reach_the_bars(digits_model):
    model, X, y = digits_model
    display = ReliabilityDisplay.from_estimator(
        model,
        X,
        y,
        ref_line=False,
        show_gap=False,
        show_histogram=False,
        color="tab:green",
    )
    assert display.ref_line_ is None
    assert display.gap_bars_ is None
    assert display.hist_ax_ is None and display.hist_bars_ is None
    assert len(display.ax_.lines) == 0
    assert len(display.figure_.axes) == 1
    assert display.ax_.get_xlabel() == "Confidence"
    green = matplotlib.colors.to_rgba("tab:green")
    assert all(bar.get_facecolor() == green for bar in display.bars_)


def test_reference_line_is_the_diagonal(digits_model):
    model, X, y = digits_model
    display = ReliabilityDisplay.from_estimator(model, X, y)
    np.testing.assert_array_equal(display.ref_line_.get_xdata(), [0, 1])
    np.testing.assert_array_equal(display.ref_line_.get_ydata(), [0, 1])


def test_from_estimator_reads_columns_through_classes_with_strings():
    X, y = load_wine(return_X_y=True)
    y = np.array(["zinfandel", "barbera", "merlot"])[y]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    test = y != "merlot"  # a class missing from the data shown
    display = ReliabilityDisplay.from_estimator(model, X[test], y[test], n_bins=5)
    expected = ReliabilityDisplay.from_predictions(
        y[test], model.predict_proba(X[test]), n_bins=5, labels=model.classes_
    )
    np.testing.assert_array_equal(display.accuracy, expected.accuracy)
    assert display.estimator_name == "Pipeline"
    assert expected.estimator_name is None
    assert legend_texts(expected.ax_)[1] == f"ECE = {expected.ece:.4f}"


def test_binary_top_label_diagram():
    X, y = load_iris(return_X_y=True)
    X, y = X[y > 0], y[y > 0]
    model = LogisticRegression().fit(X, y)
    p = model.predict_proba(X)[:, 1]
    display = ReliabilityDisplay.from_predictions(y, p, n_bins=10, name="binary")
    # top-label confidences of a binary problem are at least 0.5
    left = bar_geometry(display.bars_)[:, 0]
    assert left.min() >= 0.5
    np.testing.assert_allclose(
        display.accuracy,
        ReliabilityDisplay.from_predictions(
            y, model.predict_proba(X), n_bins=10
        ).accuracy,
    )


def errorbar_bounds(container):
    """(x, low, high) of each error bar of an ErrorbarContainer."""
    (segments,) = container.lines[2]
    return np.array([(s[0, 0], s[0, 1], s[1, 1]) for s in segments.get_segments()])


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_band_is_the_bootstrap_interval_of_each_bars_accuracy(digits_model, strategy):
    model, X, y = digits_model
    display = ReliabilityDisplay.from_estimator(
        model, X, y, n_bins=10, strategy=strategy, confidence_level=0.9, random_state=0
    )
    filled = display.bin_weight > 0
    low, high = display.accuracy_interval
    assert np.isnan(low[~filled]).all() and np.isnan(high[~filled]).all()
    accuracy = display.accuracy[filled]
    assert np.all(low[filled] <= accuracy) and np.all(accuracy <= high[filled])
    assert np.any(low[filled] < high[filled])
    # one error bar per bar, at the centre of its bin, from low to high
    bounds = errorbar_bounds(display.band_)
    left = bar_geometry(display.bars_)
    np.testing.assert_allclose(bounds[:, 0], left[:, 0] + left[:, 1] / 2)
    np.testing.assert_allclose(bounds[:, 1], low[filled])
    np.testing.assert_allclose(bounds[:, 2], high[filled])
    assert "90% bootstrap interval" in legend_texts(display.ax_)


def test_band_of_a_bin_is_the_bootstrap_of_its_samples():
    # one bin of 40 samples, 30 of them right: the percentile interval of a
    # proportion of 0.75 from 40 samples, wider at 95% than at 50%
    y_prob = np.tile([[0.7, 0.3]], (40, 1))
    y_true = np.r_[np.zeros(30, int), np.ones(10, int)]
    intervals = [
        ReliabilityDisplay.from_predictions(
            y_true,
            y_prob,
            n_bins=5,
            confidence_level=level,
            n_resamples=2000,
            random_state=0,
        ).accuracy_interval[:, 3]
        for level in (0.95, 0.5)
    ]
    (low, high), (inner_low, inner_high) = intervals
    # the binomial standard error is sqrt(0.75 * 0.25 / 40) = 0.068
    assert low == pytest.approx(0.75 - 1.96 * 0.068, abs=0.03)
    assert high == pytest.approx(0.75 + 1.96 * 0.068, abs=0.03)
    assert low < inner_low < 0.75 < inner_high < high


def test_band_gives_a_point_to_bins_whose_samples_agree():
    y_prob = [[0.95, 0.05]] * 5 + [[0.65, 0.35]] * 3
    display = ReliabilityDisplay.from_predictions(
        [0] * 5 + [1, 0, 1], y_prob, n_bins=10, confidence_level=0.95, random_state=0
    )
    assert tuple(display.accuracy_interval[:, 9]) == (1.0, 1.0)
    assert display.accuracy_interval[0, 6] < display.accuracy_interval[1, 6]


def test_band_is_reproducible_and_weighted(digits_model):
    model, X, y = digits_model
    weight = np.random.default_rng(1).integers(0, 4, size=len(y))
    kwargs = {"n_bins": 10, "confidence_level": 0.95, "sample_weight": weight}
    first, second = (
        ReliabilityDisplay.from_estimator(model, X, y, random_state=3, **kwargs)
        for _ in range(2)
    )
    np.testing.assert_array_equal(first.accuracy_interval, second.accuracy_interval)
    unweighted = ReliabilityDisplay.from_estimator(
        model, X, y, n_bins=10, confidence_level=0.95, random_state=3
    )
    assert not np.array_equal(first.accuracy_interval, unweighted.accuracy_interval)


def test_band_is_off_by_default_and_can_be_hidden(digits_model):
    model, X, y = digits_model
    display = ReliabilityDisplay.from_estimator(model, X, y)
    assert display.accuracy_interval is None and display.band_ is None
    with_band = ReliabilityDisplay.from_estimator(
        model, X, y, confidence_level=0.95, n_resamples=50, random_state=0
    )
    assert with_band.band_ is not None
    with_band.plot(show_band=False)
    assert with_band.band_ is None
    assert not any("interval" in text for text in legend_texts(with_band.ax_))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"confidence_level": 0.0}, "confidence_level"),
        ({"confidence_level": 1.0}, "confidence_level"),
        ({"confidence_level": "high"}, "confidence_level"),
        ({"confidence_level": 0.9, "n_resamples": 1}, "n_resamples"),
        ({"confidence_level": 0.9, "random_state": "x"}, "random_state"),
    ],
)
def test_bad_band_options_raise_before_drawing(digits_model, kwargs, message):
    model, X, y = digits_model
    with pytest.raises(ValueError, match=message):
        ReliabilityDisplay.from_estimator(model, X, y, **kwargs)
    assert plt.get_fignums() == []


def test_bad_input_is_reported_before_drawing():
    with pytest.raises(ValueError, match="sum to 1"):
        ReliabilityDisplay.from_predictions([0, 1], [[0.5, 0.6], [0.2, 0.8]])
    assert plt.get_fignums() == []


def test_missing_matplotlib_gives_a_clear_import_error(monkeypatch, digits_model):
    model, X, y = digits_model
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="needs matplotlib.*pip install"):
        ReliabilityDisplay.from_estimator(model, X, y)


def test_docstring_examples():
    result = doctest.testmod(_reliability)
    assert result.attempted > 0
    assert result.failed == 0

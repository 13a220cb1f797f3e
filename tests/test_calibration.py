"""Tests of AdaptiveTemperatureScaling and ATSCalibrator."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV, _TemperatureScaling
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold, LeaveOneOut, LeavePOut
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from sklearn_gce._testing import LogitModel, make_tempered_logits
from sklearn_gce.calibration import AdaptiveTemperatureScaling, ATSCalibrator
from sklearn_gce.metrics import expected_calibration_error

FEW_BINS = "ignore:Only .* confidence bins:UserWarning"
POORLY_DETERMINED = "ignore:.*determines the temperature poorly:UserWarning"


@pytest.fixture(autouse=True)
def _one_thread():
    """OpenMP in HistGradientBoosting crawls when the 2 cores are shared."""
    with threadpool_limits(limits=1):
        yield


def _split(n_classes, n_samples=3000, random_state=0):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=8,
        n_informative=5,
        n_classes=n_classes,
        random_state=random_state,
    )
    third = n_samples // 3
    return (
        (X[:third], y[:third]),
        (X[third : 2 * third], y[third : 2 * third]),
        (
            X[2 * third :],
            y[2 * third :],
        ),
    )


# --- AdaptiveTemperatureScaling (logits in, probabilities out) ---------------


def test_logit_calibrator_attributes_and_predictions():
    logits, y = make_tempered_logits(4000, 4, 2.0, random_state=0)
    ats = AdaptiveTemperatureScaling(n_bins=6).fit(logits, y)
    assert ats.n_bins_ == 6 and ats.n_features_in_ == 4
    assert ats.bin_edges_.shape == (7,) and np.all(np.diff(ats.bin_edges_) > 0)
    assert ats.bin_edges_[0] == 0.25 and ats.bin_edges_[-1] == 1.0
    assert np.isfinite(ats.temperatures_).all() and (ats.temperatures_ > 0).all()
    assert abs(ats.global_temperature_ - 2.0) < 0.15
    proba = ats.predict_proba(logits)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(ats.predict(logits), logits.argmax(axis=1))
    assert_array_equal(proba.argmax(axis=1), logits.argmax(axis=1))


# With one bin, ATS is scikit-learn's temperature scaling plus one pseudo-sample
# labelled by the model itself (exactly equal without it: test_temperature.py).
# Its pull on log T is about log(T) / n: probabilities differ by < 1e-3 at
# n = 1000, < 3e-4 at n = 3000.
@pytest.mark.parametrize("n_classes", [2, 5])
def test_logit_calibrator_one_bin_is_temperature_scaling(n_classes):
    logits, y = make_tempered_logits(3000, n_classes, 0.7, random_state=1)
    ats = AdaptiveTemperatureScaling(n_bins=1).fit(logits, y)
    reference = _TemperatureScaling().fit(logits, y)
    assert_allclose(ats.predict_proba(logits), reference.predict(logits), atol=3e-4)
    assert_array_equal(ats.classes_, np.arange(n_classes))


def test_logit_calibrator_float32_logits():
    logits, y = make_tempered_logits(2000, 3, 1.5, random_state=0)
    ats64 = AdaptiveTemperatureScaling(n_bins=4).fit(logits, y)
    ats32 = AdaptiveTemperatureScaling(n_bins=4).fit(logits.astype(np.float32), y)
    proba = ats32.predict_proba(logits.astype(np.float32))
    assert proba.dtype == np.float64
    assert_allclose(proba, ats64.predict_proba(logits), atol=1e-4)


def test_logit_calibrator_sample_weight_as_repetition():
    logits, y = make_tempered_logits(1500, 3, 1.5, random_state=0)
    weight = np.random.default_rng(0).integers(0, 4, len(y))
    weighted = AdaptiveTemperatureScaling(n_bins=5).fit(logits, y, weight)
    repeated = AdaptiveTemperatureScaling(n_bins=5).fit(
        np.repeat(logits, weight, axis=0), np.repeat(y, weight)
    )
    assert_allclose(weighted.bin_edges_, repeated.bin_edges_)
    assert_allclose(weighted.temperatures_, repeated.temperatures_, rtol=1e-6)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_bins": 0}, "n_bins"),
        ({"n_bins": 2.5}, "n_bins"),
        ({"strategy": "kmeans"}, "strategy"),
        ({"min_samples_per_bin": -1}, "min_samples_per_bin"),
        ({"shrinkage": -0.1}, "shrinkage"),
    ],
)
def test_logit_calibrator_rejects_bad_parameters(params, match):
    logits, y = make_tempered_logits(100, 3, random_state=0)
    with pytest.raises(InvalidParameterError, match=match):
        AdaptiveTemperatureScaling(**params).fit(logits, y)


@pytest.mark.parametrize(
    "y, match",
    [
        (np.full(50, 3), r"\[0, 3\)"),
        (np.full(50, -1), r"\[0, 3\)"),
        (np.full(50, 0.5), "Unknown label type"),
    ],
)
def test_logit_calibrator_rejects_bad_labels(y, match):
    logits, _ = make_tempered_logits(50, 3, random_state=0)
    with pytest.raises(ValueError, match=match):
        AdaptiveTemperatureScaling().fit(logits, y)


def test_logit_calibrator_rejects_bad_logits():
    logits, y = make_tempered_logits(50, 3, random_state=0)
    bad = logits.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AdaptiveTemperatureScaling().fit(bad, y)
    with pytest.raises(ValueError, match="at least 2; got n_features = 1"):
        AdaptiveTemperatureScaling().fit(logits[:, :1], np.zeros(50, int))
    with pytest.raises(ValueError, match="non-zero"):
        AdaptiveTemperatureScaling().fit(logits, y, np.zeros(50))
    with pytest.raises(ValueError, match="Negative values"):
        AdaptiveTemperatureScaling().fit(logits, y, np.r_[-1.0, np.ones(49)])
    # frequency weights: a total that would overflow the fit is refused
    with pytest.raises(ValueError, match="sample_weight sums to inf"):
        AdaptiveTemperatureScaling().fit(logits, y, np.full(50, 1e308))
    with pytest.warns(UserWarning, match="Only 1 of"):
        ats = AdaptiveTemperatureScaling().fit(logits, y)
    with pytest.raises(ValueError, match="NaN"):
        ats.predict_proba(bad)
    with pytest.raises(ValueError, match="features"):
        ats.predict_proba(logits[:, :2])


def _with(array, row, column, value):
    array = np.array(array, dtype=float)
    array[row, column] = value
    return array


_LOGITS, _LABELS = make_tempered_logits(60, 3, random_state=0)
BAD_FIT_INPUTS = {
    "nan": (_with(_LOGITS, 3, 1, np.nan), _LABELS, "NaN"),
    "inf": (_with(_LOGITS, 3, 1, np.inf), _LABELS, "infinity"),
    "one_column": (_LOGITS[:, :1], np.zeros(60, int), "n_features = 1"),
    "empty": (_LOGITS[:0], _LABELS[:0], "0 sample"),
    "one_dimensional": (_LOGITS[:, 0], _LABELS, "Expected 2D array"),
    "label_out_of_range": (_LOGITS, np.r_[_LABELS[:-1], 5], r"\[0, 3\)"),
    "too_few_labels": (_LOGITS, np.array(["a", "b"])[_LABELS % 2], "exactly 3"),
    "continuous": (_LOGITS, _LABELS + 0.5, "Unknown label type: continuous"),
    "lengths": (_LOGITS, _LABELS[:-1], "inconsistent numbers of samples"),
    "mixed_types": (_LOGITS, np.array([0, "a", 1] * 20, dtype=object), "label type"),
    "object": (_with(_LOGITS, 0, 0, 0).astype(object), _LABELS, None),
}


@pytest.mark.parametrize("case", BAD_FIT_INPUTS)
def test_logit_calibrator_fit_rejects_bad_input(case):
    logits, y, match = BAD_FIT_INPUTS[case]
    if case == "object":  # numbers stored as objects are fine...
        AdaptiveTemperatureScaling(n_bins=1).fit(logits, y)
        logits[0, 0] = {"not": "a number"}  # ...other objects are not
        with pytest.raises(TypeError):
            AdaptiveTemperatureScaling(n_bins=1).fit(logits, y)
        return
    with pytest.raises(ValueError, match=match):
        AdaptiveTemperatureScaling(n_bins=1).fit(logits, y)


@pytest.mark.parametrize("method", ["predict_proba", "predict"])
def test_logit_calibrator_predict_rejects_bad_input(method):
    ats = AdaptiveTemperatureScaling(n_bins=1)
    with pytest.raises(NotFittedError):
        getattr(ats, method)(_LOGITS)
    ats.fit(_LOGITS, _LABELS)
    predict = getattr(ats, method)
    for logits, match in [
        (_with(_LOGITS, 3, 1, np.nan), "NaN"),
        (_with(_LOGITS, 3, 1, -np.inf), "infinity"),
        (_LOGITS[:, :2], "X has 2 features, but AdaptiveTemperatureScaling is "),
        (_LOGITS[:0], "0 sample"),
        (_LOGITS[0], "Expected 2D array"),
    ]:
        with pytest.raises(ValueError, match=match):
            predict(logits)
    # huge but finite logits are fine
    proba = ats.predict_proba(_LOGITS * 1e300)
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.filterwarnings(FEW_BINS, POORLY_DETERMINED)
def test_calibrator_rejects_bad_input_at_every_entry_point():
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    frozen = FrozenEstimator(LogisticRegression().fit(X, y))
    for ats in [ATSCalibrator(cv=3), ATSCalibrator(frozen)]:
        with pytest.raises(ValueError, match="NaN"):
            ats.fit(_with(X, 2, 2, np.nan), y)
        with pytest.raises(ValueError, match="infinity"):
            ats.fit(_with(X, 2, 2, np.inf), y)
        with pytest.raises(ValueError, match="0 sample"):
            ats.fit(X[:0], y[:0])
        if isinstance(ats.estimator, FrozenEstimator):
            with pytest.raises(ValueError, match="X has 3 features"):
                ats.fit(X[:, :3], y)
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            ats.fit(X, y[:-1])
        with pytest.raises(ValueError, match="Unknown label type"):
            ats.fit(X, y + 0.5)
        # weights are checked before the estimator sees them
        with pytest.raises(ValueError, match="Negative values"):
            ats.fit(X, y, sample_weight=np.r_[-1.0, np.ones(59)])
        with pytest.raises(ValueError, match="sample_weight sums to 6e"):
            ats.fit(X, y, sample_weight=np.full(60, 1e200))
        with pytest.raises(NotFittedError):
            ats.predict_proba(X)
        ats.fit(X, y)
        for method in ["predict_proba", "predict"]:
            predict = getattr(ats, method)
            for bad, match in [
                (_with(X, 2, 2, np.nan), "NaN"),
                (_with(X, 2, 2, np.inf), "infinity"),
                (X[:, :3], "X has 3 features"),
                (X[:0], "0 sample"),
            ]:
                with pytest.raises(ValueError, match=match):
                    predict(bad)
    # a single class: the estimator's own error when it is fitted...
    with pytest.raises(ValueError, match="one class"):
        ATSCalibrator(cv=3).fit(X, np.zeros(60, int))
    # ...a calibration set of one class for a frozen one (here all correct)
    ones = (frozen.predict(X) == 1) & (y == 1)
    with pytest.warns(UserWarning, match="Every calibration sample"):
        ATSCalibrator(frozen).fit(X[ones], y[ones])
    # a label the frozen estimator does not know
    with pytest.raises(ValueError, match=r"not fitted on: \['c'\]"):
        ATSCalibrator(
            FrozenEstimator(_ColumnLogits(["a", "b"]).fit(X, ["a", "b"] * 30))
        ).fit(X, ["a", "b"] * 29 + ["c", "c"])


def test_logit_calibrator_takes_labels_in_sorted_column_order():
    logits, y = make_tempered_logits(600, 3, 1.5, random_state=0)
    labels = np.array(["ant", "bee", "cat"])
    ats = AdaptiveTemperatureScaling(n_bins=2).fit(logits, labels[y])
    reference = AdaptiveTemperatureScaling(n_bins=2).fit(logits, y)
    assert_array_equal(ats.classes_, labels)
    assert_allclose(ats.temperatures_, reference.temperatures_)
    assert_array_equal(ats.predict(logits), labels[logits.argmax(axis=1)])
    # non-contiguous integers: sorted too; indices in range stay indices
    ats = AdaptiveTemperatureScaling(n_bins=2).fit(logits, np.array([-3, 2, 7])[y])
    assert_array_equal(ats.classes_, [-3, 2, 7])
    ats = AdaptiveTemperatureScaling(n_bins=2).fit(logits, np.minimum(y, 1))
    assert_array_equal(ats.classes_, [0, 1, 2])
    with pytest.raises(ValueError, match="exactly 3 distinct labels.*got 2"):
        AdaptiveTemperatureScaling().fit(logits, labels[np.minimum(y, 1)])


@pytest.mark.parametrize("n_bins", [1, 15])
def test_all_correct_calibration_set_keeps_the_scores(n_bins):
    # scikit-learn's temperature scaling drives T to e^-10 here, and the test
    # log-loss explodes on the first error
    logits, y = make_tempered_logits(3000, 4, 1.0, random_state=0)
    right = np.flatnonzero(logits.argmax(axis=1) == y)[:300]
    with pytest.warns(UserWarning, match="Every calibration sample is classified"):
        ats = AdaptiveTemperatureScaling(n_bins=n_bins).fit(logits[right], y[right])
    assert_array_equal(ats.temperatures_, [1.0])
    assert_allclose(ats.predict_proba(logits), softmax(logits, axis=1))
    ts = _TemperatureScaling().fit(logits[right], y[right])
    assert log_loss(y, ts.predict(logits)) > 5 * log_loss(y, softmax(logits, axis=1))


def test_handful_of_samples_stays_moderate_with_a_warning():
    logits, y = make_tempered_logits(2000, 10, 1.7, random_state=0)
    with pytest.warns(UserWarning, match="determines the temperature poorly"):
        ats = AdaptiveTemperatureScaling(n_bins=1).fit(logits[:5], y[:5])
    assert 0.2 < ats.global_temperature_ < 20
    assert log_loss(y, ats.predict_proba(logits), labels=range(10)) < 3.0


def test_scores_worse_than_chance_warn_at_the_upper_edge():
    logits, _ = make_tempered_logits(300, 2, 1.0, random_state=0)
    with pytest.warns(UserWarning, match="upper edge of its search interval"):
        ats = AdaptiveTemperatureScaling(n_bins=1).fit(logits, logits.argmin(axis=1))
    assert_allclose(ats.predict_proba(logits), 0.5, atol=1e-3)


def test_extreme_logits_find_their_temperature():
    # logits of 1e5 need T of about 1e5; scikit-learn stops at e^10 = 2.2e4
    logits, y = make_tempered_logits(4000, 5, 2.3, random_state=0)
    cal, test = slice(0, 2000), slice(2000, None)
    model = FrozenEstimator(LogitModel().fit(logits[cal], y[cal]))
    expected = ATSCalibrator(model, n_bins=1).fit(logits[cal], y[cal])
    huge = FrozenEstimator(LogitModel().fit(1e5 * logits[cal], y[cal]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        ats = ATSCalibrator(huge, n_bins=1).fit(1e5 * logits[cal], y[cal])
    temperature = ats.calibrated_classifiers_[0].calibrators[0].global_temperature_
    assert temperature == pytest.approx(2.3e5, rel=0.1)
    loss = log_loss(y[test], ats.predict_proba(1e5 * logits[test]))
    assert loss == pytest.approx(
        log_loss(y[test], expected.predict_proba(logits[test])), rel=1e-3
    )
    sklearn_ts = CalibratedClassifierCV(huge, method="temperature")
    sklearn_ts.fit(1e5 * logits[cal], y[cal])
    assert log_loss(y[test], sklearn_ts.predict_proba(1e5 * logits[test])) > 2 * loss


def test_too_few_samples_falls_back_with_a_warning():
    logits, y = make_tempered_logits(120, 3, 2.0, random_state=0)
    with pytest.warns(UserWarning, match="Only 2 of the n_bins=20"):
        ats = AdaptiveTemperatureScaling(n_bins=20, min_samples_per_bin=50)
        ats.fit(logits, y)
    assert ats.n_bins_ == 2 and len(ats.temperatures_) == 2
    assert np.isfinite(ats.predict_proba(logits)).all()


def test_identical_confidences_fall_back_to_one_bin():
    logits = np.tile([[2.0, 0.0, 0.0]], (300, 1))
    y = np.r_[np.zeros(200, int), np.ones(100, int)]
    for strategy in ["quantile", "uniform"]:
        with pytest.warns(UserWarning, match="Only 1 of"):
            ats = AdaptiveTemperatureScaling(n_bins=5, strategy=strategy)
            ats.fit(logits, y)
        # 2/3, pulled toward the model's own softmax(2, 0, 0)_0 = 0.79 by the
        # pseudo-sample (weight 1/301)
        assert 2 / 3 < ats.predict_proba(logits)[0, 0] < 2 / 3 + 1e-3


# --- ATSCalibrator (a classifier around a classifier) -------------------------


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize(
    "model",
    [LogisticRegression(), GaussianNB(), HistGradientBoostingClassifier(max_iter=20)],
    ids=["decision_function", "predict_proba", "hgb"],
)
def test_one_bin_agrees_with_scikit_learn_temperature(n_classes, model):
    (X_fit, y_fit), (X_cal, y_cal), (X_test, _) = _split(n_classes)
    model.fit(X_fit, y_fit)
    ats = ATSCalibrator(FrozenEstimator(model), n_bins=1).fit(X_cal, y_cal)
    reference = CalibratedClassifierCV(FrozenEstimator(model), method="temperature")
    reference.fit(X_cal, y_cal)
    assert_allclose(
        ats.predict_proba(X_test), reference.predict_proba(X_test), atol=1e-3
    )


@pytest.mark.parametrize("ensemble", [True, False])
def test_one_bin_agrees_with_scikit_learn_under_cross_validation(ensemble):
    X, y = make_classification(n_samples=600, n_classes=3, n_informative=4)
    ats = ATSCalibrator(n_bins=1, cv=3, ensemble=ensemble).fit(X, y)
    reference = CalibratedClassifierCV(
        LogisticRegression(), method="temperature", cv=3, ensemble=ensemble
    ).fit(X, y)
    assert_allclose(ats.predict_proba(X), reference.predict_proba(X), atol=2e-3)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "model",
    [
        LogisticRegression(),
        HistGradientBoostingClassifier(max_iter=30),
        make_pipeline(StandardScaler(), LogisticRegression(C=0.1)),
        GaussianNB(),
    ],
    ids=["logistic", "hgb", "pipeline", "naive_bayes"],
)
def test_accuracy_is_preserved_on_a_frozen_estimator(n_classes, model):
    (X_fit, y_fit), (X_cal, y_cal), (X_test, _) = _split(n_classes)
    model.fit(X_fit, y_fit)
    ats = ATSCalibrator(FrozenEstimator(model), n_bins=5).fit(X_cal, y_cal)
    assert ats.calibrated_classifiers_[0].calibrators[0].n_bins_ == 5
    assert_array_equal(ats.predict(X_test), model.predict(X_test))
    assert_array_equal(ats.classes_, model.classes_)


@pytest.mark.parametrize(
    "ensemble, n_pairs", [("auto", 3), (True, 3), (False, 1)], ids=str
)
def test_cross_validated_structure(ensemble, n_pairs):
    X, y = make_classification(n_samples=900, n_classes=3, n_informative=4)
    labels = np.array(["ant", "bee", "cat"])[y]
    ats = ATSCalibrator(HistGradientBoostingClassifier(max_iter=10), n_bins=4, cv=3)
    ats.set_params(ensemble=ensemble).fit(X, labels)
    assert len(ats.calibrated_classifiers_) == n_pairs
    for pair in ats.calibrated_classifiers_:
        assert isinstance(pair.calibrators[0], AdaptiveTemperatureScaling)
        assert_array_equal(pair.estimator.classes_, ["ant", "bee", "cat"])
    assert ats.n_features_in_ == 20
    assert set(ats.predict(X)) <= {"ant", "bee", "cat"}
    assert_allclose(ats.predict_proba(X).sum(axis=1), 1.0)


def test_feature_names_and_non_contiguous_labels():
    pd = pytest.importorskip("pandas")
    X, y = make_classification(n_samples=600, n_features=4, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    ats = ATSCalibrator(cv=3, n_bins=3).fit(frame, np.where(y == 1, 7, -3))
    assert_array_equal(ats.feature_names_in_, ["a", "b", "c", "d"])
    assert_array_equal(ats.classes_, [-3, 7])
    assert set(ats.predict(frame)) <= {-3, 7}


def test_sample_weight_reaches_estimator_and_calibrator():
    X, y = make_classification(n_samples=900, n_classes=3, n_informative=4)
    weight = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    ats = ATSCalibrator(cv=3, n_bins=3, ensemble=False).fit(X, y, weight)
    weighted_model = LogisticRegression().fit(X, y, sample_weight=weight)
    assert_allclose(
        ats.calibrated_classifiers_[0].estimator.coef_, weighted_model.coef_
    )
    unweighted = ATSCalibrator(cv=3, n_bins=3, ensemble=False).fit(X, y)
    assert not np.allclose(
        ats.calibrated_classifiers_[0].calibrators[0].temperatures_,
        unweighted.calibrated_classifiers_[0].calibrators[0].temperatures_,
    )


@pytest.mark.filterwarnings(FEW_BINS, POORLY_DETERMINED)
def test_sample_weight_warning_only_when_an_estimator_is_fitted():
    X, y = make_classification(n_samples=300, random_state=0)
    weight = np.ones(len(y))
    with pytest.warns(UserWarning, match="does not appear to accept sample_weight"):
        ATSCalibrator(KNeighborsClassifier(), cv=3, n_bins=2).fit(X, y, weight)
    frozen = FrozenEstimator(LogisticRegression().fit(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ATSCalibrator(frozen, n_bins=2).fit(X, y, weight)


def test_metadata_routing():
    X, y = make_classification(n_samples=600, n_classes=3, n_informative=4)
    weight = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    plain = ATSCalibrator(cv=3, n_bins=3).fit(X, y, sample_weight=weight)
    with config_context(enable_metadata_routing=True):
        routed = ATSCalibrator(
            LogisticRegression().set_fit_request(sample_weight=True), cv=3, n_bins=3
        ).fit(X, y, sample_weight=weight)
        default = ATSCalibrator(cv=3, n_bins=3).fit(X, y, sample_weight=weight)
    assert_allclose(routed.predict_proba(X), plain.predict_proba(X))
    assert_allclose(default.predict_proba(X), plain.predict_proba(X))


class _NaNScores(ClassifierMixin, BaseEstimator):
    """Scores are NaN for the samples whose first feature exceeds ``limit``."""

    def __init__(self, limit=np.inf):
        self.limit = limit

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X):
        scores = np.asarray(X)[:, : len(self.classes_)].copy()
        scores[np.asarray(X)[:, 0] > self.limit] = np.nan
        return scores


def test_nan_scores_are_an_error_at_fit_and_at_predict():
    X, y = make_classification(n_samples=400, n_classes=3, n_informative=4)
    with pytest.raises(ValueError, match=r"_NaNScores.decision_function returned NaN"):
        ATSCalibrator(FrozenEstimator(_NaNScores(limit=0.0).fit(X, y))).fit(X, y)
    ats = ATSCalibrator(FrozenEstimator(_NaNScores().fit(X, y)), n_bins=2).fit(X, y)
    ats.calibrated_classifiers_[0].estimator.estimator.limit = 0.0
    with pytest.raises(ValueError, match="NaN or infinite scores"):
        ats.predict_proba(X)


def test_labels_unseen_by_a_frozen_estimator_are_an_error():
    X, y = make_classification(n_samples=600, n_classes=3, n_informative=4)
    model = LogisticRegression().fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match=r"not fitted on: \[2\]"):
        ATSCalibrator(FrozenEstimator(model)).fit(X, y)


# --- class order ------------------------------------------------------------------


class _ColumnLogits(ClassifierMixin, BaseEstimator):
    """A 'model' whose logits are columns of X, column j scoring ``labels[j]``.

    Its ``classes_`` are the labels seen in fit in the order of ``labels``,
    sorted or not (as ``GCEClassifier(classes=[...])`` keeps them), and its
    ``decision_function`` gives their columns in that order.
    """

    def __init__(self, labels=None):
        self.labels = labels

    def fit(self, X, y):
        seen = set(np.asarray(y).tolist())
        self.classes_ = np.array([label for label in self.labels if label in seen])
        return self

    def decision_function(self, X):
        labels = list(self.labels)
        columns = [labels.index(label) for label in self.classes_.tolist()]
        return np.asarray(X)[:, columns]

    def predict(self, X):
        return self.classes_[self.decision_function(X).argmax(axis=1)]


def _labelled_logits(labels, temperature=0.5, n_samples=3000):
    """Logits whose column j scores labels[j], and labels drawn from them."""
    logits, y = make_tempered_logits(
        n_samples, len(labels), temperature, random_state=0
    )
    return logits, np.asarray(labels)[y]


@pytest.mark.parametrize(
    "labels", [["b", "a"], ["c", "a", "b"], [7, -3, 2]], ids=["ba", "cab", "ints"]
)
def test_any_class_order_of_a_frozen_estimator(labels):
    # the silent wrong answer of issue 12: T = 2.2e4 instead of 0.5
    logits, y = _labelled_logits(labels)
    model = _ColumnLogits(labels).fit(logits, y)
    ats = ATSCalibrator(FrozenEstimator(model), n_bins=1).fit(logits, y)
    assert_array_equal(ats.classes_, sorted(labels))
    temperature = ats.calibrated_classifiers_[0].calibrators[0].global_temperature_
    assert temperature == pytest.approx(0.5, rel=0.1)
    # the same model with its columns in sorted order gives the same answer
    order = np.argsort(labels)
    in_order = _ColumnLogits(sorted(labels)).fit(logits[:, order], y)
    reference = ATSCalibrator(FrozenEstimator(in_order), n_bins=1)
    reference.fit(logits[:, order], y)
    assert_allclose(
        ats.predict_proba(logits), reference.predict_proba(logits[:, order])
    )
    assert_array_equal(ats.predict(logits), model.classes_[logits.argmax(axis=1)])
    uncalibrated = log_loss(y, softmax(logits[:, order], axis=1), labels=ats.classes_)
    assert log_loss(y, ats.predict_proba(logits), labels=ats.classes_) < uncalibrated


@pytest.mark.parametrize(
    "labels, ensemble",
    [(["c", "a", "b"], True), ([7, -3, 2], True), ([2, 0, 1], False)],
    ids=["strings", "non_contiguous", "ensemble_false"],
)
def test_any_class_order_under_cross_validation(labels, ensemble):
    # (with ensemble=False, cross_val_predict fits on encoded labels 0..K-1)
    logits, y = _labelled_logits(labels, n_samples=1500)
    order = np.argsort(labels)
    ats = ATSCalibrator(_ColumnLogits(labels), n_bins=2, cv=3, ensemble=ensemble)
    ats.fit(logits, y)
    reference = ATSCalibrator(
        _ColumnLogits(sorted(labels)), n_bins=2, cv=3, ensemble=ensemble
    ).fit(logits[:, order], y)
    assert_array_equal(ats.classes_, sorted(labels))
    assert_allclose(
        ats.predict_proba(logits), reference.predict_proba(logits[:, order])
    )
    for pair in ats.calibrated_classifiers_:
        assert pair.calibrators[0].global_temperature_ == pytest.approx(0.5, rel=0.2)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("ensemble", [True, False])
def test_folds_whose_estimator_saw_fewer_classes(ensemble):
    # as scikit-learn's test_calibration_less_classes: the first training
    # fold misses class 0, the last one class 3
    X = np.random.default_rng(0).standard_normal((12, 5))
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    tree = DecisionTreeClassifier(random_state=7)
    if ensemble:
        ats = ATSCalibrator(tree, cv=KFold(3), ensemble=True).fit(X, y)
    else:
        with pytest.warns(RuntimeWarning, match="8 of 12 samples are in test folds"):
            ats = ATSCalibrator(tree, cv=KFold(3), ensemble=False).fit(X, y)
    assert_allclose(ats.predict_proba(X).sum(axis=1), 1.0)
    if ensemble:
        for pair, missing in zip(ats.calibrated_classifiers_[::2], [0, 3]):
            proba = pair.predict_proba(X)
            assert_array_equal(proba[:, missing], 0.0)
            assert np.all(np.delete(proba, missing, axis=1) > 0)


def test_fold_missing_a_class_keeps_the_other_columns_right():
    labels = ["c", "a", "b", "d"]
    logits, y = _labelled_logits(labels, n_samples=2400)
    y[800:] = np.where(y[800:] == "d", "a", y[800:])  # only fold 1 tests "d"
    order = np.argsort(labels)
    ats = ATSCalibrator(_ColumnLogits(labels), n_bins=1, cv=KFold(3)).fit(logits, y)
    first = ats.calibrated_classifiers_[0]
    assert_array_equal(first.estimator.classes_, ["c", "a", "b"])
    proba = first.predict_proba(logits)
    assert_array_equal(proba[:, 3], 0.0)
    # its calibrator saw the samples of "a", "b" and "c" only, in its columns
    test = slice(0, 800)
    known = y[test] != "d"
    expected = AdaptiveTemperatureScaling(n_bins=1).fit(
        logits[test][known][:, order[:3]], y[test][known]
    )
    assert_allclose(proba[:, :3], expected.predict_proba(logits[:, order[:3]]))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fold_whose_estimator_saw_one_class():
    X = np.random.default_rng(0).standard_normal((9, 3))
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])
    tree = DecisionTreeClassifier(random_state=0)
    ats = ATSCalibrator(tree, cv=KFold(3)).fit(X, y)
    last = ats.calibrated_classifiers_[2]
    assert last.calibrators == []
    assert_array_equal(last.predict_proba(X), np.tile([1.0, 0.0], (9, 1)))
    assert_allclose(ats.predict_proba(X).sum(axis=1), 1.0)


# --- scikit-learn's guards on cv ----------------------------------------------------


@pytest.mark.filterwarnings(FEW_BINS)
def test_cv_guards():
    X, y = make_classification(n_samples=60, random_state=0)
    with pytest.raises(ValueError, match="LeaveOneOut cross-validation does not"):
        ATSCalibrator(cv=LeaveOneOut()).fit(X, y)
    with pytest.raises(ValueError, match="Requesting 31-fold cross-validation"):
        ATSCalibrator(cv=31).fit(X, y)
    with pytest.raises(ValueError, match="Requesting 5-fold"):
        ATSCalibrator().fit(X[:12], np.r_[np.zeros(8, int), np.ones(4, int)])
    one_sample_folds = list(LeavePOut(1).split(X[:20]))
    with pytest.raises(ValueError, match="test folds of a single sample"):
        ATSCalibrator(cv=one_sample_folds).fit(X[:20], y[:20])
    # without ensembling they only give cross-validated scores: allowed
    with pytest.warns(UserWarning, match="determines the temperature poorly"):
        ats = ATSCalibrator(cv=one_sample_folds, ensemble=False).fit(X[:20], y[:20])
    assert len(ats.calibrated_classifiers_) == 1


def test_ensemble_false_with_folds_that_miss_a_class():
    X = np.random.default_rng(0).standard_normal((200, 4))
    y = np.repeat([0, 1, 2, 3], 50)  # every KFold training part misses one
    with pytest.raises(ValueError, match="no fold's did"):
        ATSCalibrator(cv=KFold(4), ensemble=False).fit(X, y)


def test_frozen_estimator_may_know_more_classes_than_y():
    X, y = make_classification(n_samples=900, n_classes=3, n_informative=4)
    model = LogisticRegression().fit(X, y)
    ats = ATSCalibrator(FrozenEstimator(model), n_bins=2).fit(X[y < 2], y[y < 2])
    assert_array_equal(ats.classes_, [0, 1, 2])
    assert ats.predict_proba(X).shape == (900, 3)


@pytest.mark.filterwarnings(FEW_BINS, POORLY_DETERMINED)
def test_bad_parameters_and_tiny_data():
    X, y = make_classification(n_samples=60, random_state=0)
    with pytest.raises(InvalidParameterError, match="n_bins"):
        ATSCalibrator(n_bins=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="estimator"):
        ATSCalibrator(estimator="logistic").fit(X, y)
    with pytest.warns(UserWarning, match="Only 1 of the n_bins=15"):
        ats = ATSCalibrator(cv=3).fit(X, y)
    assert np.isfinite(ats.predict_proba(X)).all()


def test_with_the_project_gce_classifier():
    pytest.importorskip("torch")
    from sklearn_gce import GCEClassifier

    (X_fit, y_fit), (X_cal, y_cal), (X_test, _) = _split(3, n_samples=1500)
    model = GCEClassifier(max_epochs=15, random_state=0).fit(X_fit, y_fit)
    ats = ATSCalibrator(FrozenEstimator(model), n_bins=4).fit(X_cal, y_cal)
    assert_array_equal(ats.predict(X_test), model.predict(X_test))
    one_bin = ATSCalibrator(FrozenEstimator(model), n_bins=1).fit(X_cal, y_cal)
    reference = CalibratedClassifierCV(FrozenEstimator(model), method="temperature")
    reference.fit(X_cal, y_cal)
    assert_allclose(
        one_bin.predict_proba(X_test), reference.predict_proba(X_test), atol=1e-3
    )
    cross_fitted = ATSCalibrator(
        GCEClassifier(max_epochs=5, random_state=0), n_bins=2, cv=2
    ).fit(X_fit, y_fit)
    assert len(cross_fitted.calibrated_classifiers_) == 2
    assert np.isfinite(cross_fitted.predict_proba(X_test)).all()


# --- evidence: ATS earns its place --------------------------------------------


def _held_out_errors(temperature, n_classes=10, random_state=0):
    """Held-out ECE and log loss of ATS and of temperature scaling."""
    logits, y = make_tempered_logits(
        30000, n_classes, temperature, random_state=random_state
    )
    cal, test = slice(0, 10000), slice(10000, None)
    model = FrozenEstimator(LogitModel().fit(logits[cal], y[cal]))
    ats = ATSCalibrator(model).fit(logits[cal], y[cal])
    ts = CalibratedClassifierCV(model, method="temperature").fit(logits[cal], y[cal])
    errors = {}
    for name, calibrator in [("ats", ats), ("ts", ts)]:
        proba = calibrator.predict_proba(logits[test])
        errors[name] = (
            expected_calibration_error(y[test], proba),
            log_loss(y[test], proba),
        )
    return errors


def _step_temperature(confidence):
    """Under-confident below 0.5 (T < 1 sharpens), over-confident above."""
    return np.where(confidence < 0.5, 0.5, 2.0)


def test_ats_beats_temperature_scaling_when_miscalibration_depends_on_confidence():
    errors = _held_out_errors(_step_temperature)
    (ece_ats, nll_ats), (ece_ts, nll_ts) = errors["ats"], errors["ts"]
    assert ece_ts > 0.08  # one temperature cannot fix both regimes
    assert ece_ats < ece_ts / 4
    assert nll_ats < nll_ts - 0.02


def test_ats_is_not_worse_than_temperature_scaling_with_one_true_temperature():
    # the 20 000 test samples estimate ECE to about +/- 0.003, and the
    # estimated spread between bins is sometimes above 0 by chance
    errors = _held_out_errors(1.7)
    (ece_ats, nll_ats), (ece_ts, nll_ts) = errors["ats"], errors["ts"]
    assert ece_ats < ece_ts + 0.005
    assert nll_ats < nll_ts * 1.001


def test_docstring_examples():
    import doctest

    from sklearn_gce import calibration as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0

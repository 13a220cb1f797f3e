"""Tests of sklearn_gce.metrics._scorer on real scikit-learn datasets."""

import doctest
import pickle

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, make_scorer
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
    cross_validate,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_gce.metrics import (
    _scorer,
    classwise_calibration_error,
    expected_calibration_error,
    make_calibration_scorer,
    neg_expected_calibration_error_scorer,
)

METRICS = {
    "expected": expected_calibration_error,
    "classwise": classwise_calibration_error,
}


def logistic_regression():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


@pytest.fixture(scope="module")
def wine_strings():
    """Wine with string labels, whose sorted order is not their code order."""
    X, y = load_wine(return_X_y=True)
    names = np.array(["zinfandel", "barbera", "merlot"])
    return X, names[y]


def manual_scores(estimator, X, y, cv, metric=expected_calibration_error, **kwargs):
    """What each fold's score must be: the metric with labels=classes_."""
    scores = []
    for train, test in cv.split(X, y):
        fitted = clone(estimator).fit(X[train], y[train])
        y_prob = fitted.predict_proba(X[test])
        error = metric(y[test], y_prob, labels=fitted.classes_, **kwargs)
        scores.append(-error)
    return np.array(scores)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"n_bins": 5, "strategy": "quantile"}, {"norm": "max"}, {"norm": "l2"}],
)
def test_scorer_returns_minus_the_metric_with_classes_as_labels(metric, kwargs):
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X[::2], y[::2])
    scorer = make_calibration_scorer(metric=metric, **kwargs)
    expected = METRICS[metric](
        y[1::2], model.predict_proba(X[1::2]), labels=model.classes_, **kwargs
    )
    assert expected > 0
    assert scorer(model, X[1::2], y[1::2]) == pytest.approx(-expected)


def test_default_scorer_is_minus_the_default_ece():
    X, y = load_digits(return_X_y=True)
    model = GaussianNB().fit(X[:1000], y[:1000])
    expected = expected_calibration_error(y[1000:], model.predict_proba(X[1000:]))
    score = neg_expected_calibration_error_scorer(model, X[1000:], y[1000:])
    assert score == pytest.approx(-expected)


def test_cross_val_score(wine_strings):
    X, y = wine_strings
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    scores = cross_val_score(
        logistic_regression(),
        X,
        y,
        cv=cv,
        scoring=neg_expected_calibration_error_scorer,
    )
    expected = manual_scores(logistic_regression(), X, y, cv)
    np.testing.assert_allclose(scores, expected, rtol=1e-10)
    assert np.all(scores < 0)


def test_cross_validate_alone_and_in_a_dict():
    X, y = load_digits(return_X_y=True)
    cv = KFold(3, shuffle=True, random_state=0)
    ece = make_calibration_scorer(n_bins=10)
    classwise = make_calibration_scorer(metric="classwise")
    alone = cross_validate(GaussianNB(), X, y, cv=cv, scoring=ece)
    several = cross_validate(
        GaussianNB(),
        X,
        y,
        cv=cv,
        scoring={
            "accuracy": "accuracy",
            "neg_log_loss": "neg_log_loss",
            "ece": ece,
            "classwise": classwise,
        },
    )
    expected = manual_scores(GaussianNB(), X, y, cv, n_bins=10)
    np.testing.assert_allclose(alone["test_score"], expected, rtol=1e-10)
    np.testing.assert_allclose(several["test_ece"], expected, rtol=1e-10)
    np.testing.assert_allclose(
        several["test_classwise"],
        manual_scores(GaussianNB(), X, y, cv, metric=classwise_calibration_error),
        rtol=1e-10,
    )
    assert np.all(several["test_accuracy"] > 0.5)
    assert not np.allclose(several["test_ece"], several["test_classwise"])


def test_grid_search_refit_on_the_ece_key(wine_strings):
    X, y = wine_strings
    Cs = [1e-3, 1e-1, 1e2]
    search = GridSearchCV(
        logistic_regression(),
        {"logisticregression__C": Cs},
        scoring={"accuracy": "accuracy", "ece": neg_expected_calibration_error_scorer},
        refit="ece",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    )
    search.fit(X, y)
    mean_ece = search.cv_results_["mean_test_ece"]
    assert np.all(mean_ece < 0)
    assert search.best_index_ == int(np.argmax(mean_ece))  # the lowest ECE
    # the ECE does not pick the same C as the accuracy here: refit used it
    assert search.best_index_ != int(
        np.argmax(search.cv_results_["mean_test_accuracy"])
    )
    assert search.best_params_ == {"logisticregression__C": Cs[search.best_index_]}
    assert search.best_score_ == pytest.approx(mean_ece[search.best_index_])
    assert set(search.best_estimator_.classes_) == set(y)


def test_grid_search_with_the_scorer_alone():
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(
        RandomForestClassifier(n_estimators=10, random_state=0),
        {"max_depth": [1, 3]},
        scoring=make_calibration_scorer(n_bins=5),
        cv=3,
    ).fit(X, y)
    assert search.best_score_ < 0
    assert search.best_params_["max_depth"] in (1, 3)


def fold_lacking_a_class(y, absent):
    """One split: train on everything, test only on samples not of ``absent``."""
    index = np.arange(len(y))
    return [(index, index[y != absent])]


@pytest.mark.parametrize("metric", METRICS)
def test_a_test_fold_lacking_a_class_uses_the_estimator_classes(metric, wine_strings):
    X, y = wine_strings
    cv = fold_lacking_a_class(y, absent="merlot")
    scorer = make_calibration_scorer(metric=metric)
    score = cross_val_score(logistic_regression(), X, y, cv=cv, scoring=scorer)
    model = logistic_regression().fit(X, y)
    test = y != "merlot"
    expected = METRICS[metric](
        y[test], model.predict_proba(X[test]), labels=model.classes_
    )
    assert score[0] == pytest.approx(-expected)
    # what a plain make_scorer does: it cannot know the classes
    naive = make_scorer(
        METRICS[metric], response_method="predict_proba", greater_is_better=False
    )
    with pytest.raises(ValueError, match="2 classes.*3 columns"):
        naive(model, X[test], y[test])


def test_binary_string_labels_and_one_class_test_fold():
    X, y = load_iris(return_X_y=True)
    X, y = X[y > 0], np.where(y[y > 0] == 1, "virginica?", "no")
    model = LogisticRegression(max_iter=1000).fit(X, y)
    only_one_class = y == "virginica?"
    score = neg_expected_calibration_error_scorer(
        model, X[only_one_class], y[only_one_class]
    )
    y_prob = model.predict_proba(X[only_one_class])
    # top-label, by hand: hit when the "virginica?" column is the larger one
    column = list(model.classes_).index("virginica?")
    hits = y_prob.argmax(axis=1) == column
    confidence = y_prob.max(axis=1)
    expected = expected_calibration_error(
        y[only_one_class], y_prob, labels=model.classes_
    )
    assert score == pytest.approx(-expected)
    assert 0 < hits.mean() < 1
    assert expected == pytest.approx(
        expected_calibration_error(
            np.where(hits, 1, 0), np.column_stack([1 - confidence, confidence])
        )
    )


class UnsortedClassesClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression whose classes_ (and columns) are in reverse order,
    as a skorch classifier given ``classes=`` in an arbitrary order has."""

    def fit(self, X, y):
        self.model_ = LogisticRegression(max_iter=1000).fit(X, y)
        self.classes_ = self.model_.classes_[::-1]
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)[:, ::-1]


@pytest.mark.parametrize("metric", METRICS)
def test_estimator_with_unsorted_classes(metric, wine_strings):
    X, y = wine_strings
    X = StandardScaler().fit_transform(X)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scorer = make_calibration_scorer(metric=metric)
    unsorted = cross_val_score(UnsortedClassesClassifier(), X, y, cv=cv, scoring=scorer)
    plain = cross_val_score(
        LogisticRegression(max_iter=1000), X, y, cv=cv, scoring=scorer
    )
    np.testing.assert_allclose(unsorted, plain, rtol=1e-12)


def test_scorer_is_right_when_another_scorer_caches_another_binary_column():
    # a brier scorer with pos_label = classes_[0] fills scikit-learn's
    # predict_proba cache with column 0; the ECE must not read it as column 1
    X, y = load_iris(return_X_y=True)
    X, y = X[y > 0], y[y > 0]
    cv = KFold(3, shuffle=True, random_state=0)
    brier_of_first_class = make_scorer(
        brier_score_loss,
        response_method="predict_proba",
        pos_label=1,
        greater_is_better=False,
    )
    model = LogisticRegression(max_iter=1000)
    result = cross_validate(
        model,
        X,
        y,
        cv=cv,
        scoring={
            "brier": brier_of_first_class,
            "ece": neg_expected_calibration_error_scorer,
            "neg_log_loss": "neg_log_loss",
        },
    )
    np.testing.assert_allclose(
        result["test_ece"], manual_scores(model, X, y, cv), rtol=1e-10
    )


@pytest.mark.parametrize(
    "estimator",
    [
        GaussianNB(),
        KNeighborsClassifier(n_neighbors=4),  # tied top probabilities happen
        RandomForestClassifier(n_estimators=5, random_state=0),
        CalibratedClassifierCV(SVC(), ensemble=False),
    ],
    ids=lambda estimator: type(estimator).__name__,
)
def test_any_classifier_with_predict_proba(estimator):
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(
        estimator, X, y, cv=cv, scoring=neg_expected_calibration_error_scorer
    )
    np.testing.assert_allclose(scores, manual_scores(estimator, X, y, cv), rtol=1e-10)


def test_classifier_without_predict_proba_gives_a_clear_error():
    X, y = load_iris(return_X_y=True)
    model = SVC().fit(X, y)
    with pytest.raises(AttributeError, match="predict_proba"):
        neg_expected_calibration_error_scorer(model, X, y)


def test_sample_weight_is_passed_to_the_metric():
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X[::2], y[::2])
    weight = np.random.default_rng(0).uniform(0, 2, size=len(y[1::2]))
    expected = expected_calibration_error(
        y[1::2], model.predict_proba(X[1::2]), sample_weight=weight
    )
    score = neg_expected_calibration_error_scorer(
        model, X[1::2], y[1::2], sample_weight=weight
    )
    assert score == pytest.approx(-expected)
    assert score != pytest.approx(neg_expected_calibration_error_scorer(model, X, y))


def test_sample_weight_through_metadata_routing():
    X, y = load_iris(return_X_y=True)
    weight = np.random.default_rng(1).integers(1, 4, size=len(y)).astype(float)
    cv = KFold(3, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_calibration_scorer().set_score_request(sample_weight=True)
        model = LogisticRegression(max_iter=1000).set_fit_request(sample_weight=False)
        result = cross_validate(
            model, X, y, cv=cv, scoring=scorer, params={"sample_weight": weight}
        )
    expected = []
    for train, test in cv.split(X, y):
        fitted = LogisticRegression(max_iter=1000).fit(X[train], y[train])
        expected.append(
            -expected_calibration_error(
                y[test], fitted.predict_proba(X[test]), sample_weight=weight[test]
            )
        )
    np.testing.assert_allclose(result["test_score"], expected, rtol=1e-10)


def test_labels_cannot_be_given_as_metadata():
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    with pytest.raises(ValueError, match="estimator.classes_"):
        neg_expected_calibration_error_scorer._score(
            None, model, X, y, labels=model.classes_
        )


def test_pickle_and_repr():
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    scorer = make_calibration_scorer(metric="classwise", n_bins=20, norm="l2")
    assert repr(scorer) == (
        "make_calibration_scorer(metric='classwise', n_bins=20, "
        "strategy='uniform', norm='l2')"
    )
    for original in (scorer, neg_expected_calibration_error_scorer):
        restored = pickle.loads(pickle.dumps(original))
        assert repr(restored) == repr(original)
        assert restored(model, X, y) == original(model, X, y)
    assert repr(neg_expected_calibration_error_scorer) == (
        "make_calibration_scorer(metric='expected', n_bins=15, "
        "strategy='uniform', norm='l1')"
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n_bins": 0}, ValueError, "n_bins"),
        ({"metric": "adaptive"}, ValueError, "metric"),
        ({"norm": "l3"}, ValueError, "norm"),
        ({"strategy": "kmeans"}, ValueError, "strategy"),
        ({"labels": [0, 1]}, TypeError, "labels"),
        ({"sample_weight": [1, 2]}, TypeError, "sample_weight"),
    ],
)
def test_bad_scorer_parameters_fail_at_creation(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_calibration_scorer(**kwargs)


def test_docstring_examples():
    result = doctest.testmod(_scorer)
    assert result.attempted > 0
    assert result.failed == 0


def test_with_the_gce_classifier_in_a_grid_search():
    try:  # sklearn_gce.classifier is developed on another branch
        from sklearn_gce.classifier import GCEClassifier
    except ImportError:
        pytest.skip("sklearn_gce.classifier is not available")
    X, y = load_wine(return_X_y=True)
    y = np.array(["zinfandel", "barbera", "merlot"])[y]
    pipe = make_pipeline(StandardScaler(), GCEClassifier(max_epochs=3, random_state=0))
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(
        pipe,
        {"gceclassifier__reg_weight": [0.0, 1.0]},
        scoring={"accuracy": "accuracy", "ece": neg_expected_calibration_error_scorer},
        refit="ece",
        cv=cv,
    ).fit(X, y)
    mean_ece = search.cv_results_["mean_test_ece"]
    assert search.best_index_ == int(np.argmax(mean_ece))
    expected = manual_scores(
        pipe.set_params(
            gceclassifier__reg_weight=search.best_params_["gceclassifier__reg_weight"]
        ),
        X,
        y,
        cv,
    )
    assert mean_ece[search.best_index_] == pytest.approx(expected.mean(), rel=1e-6)

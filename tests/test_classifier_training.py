"""GCEClassifier's training options: sample and class weights, early stopping,
and the warning for a diverging run."""

import copy

import numpy as np
import pytest
import sklearn
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from sklearn_gce import GCEClassifier, GCELoss, MLPModule
from sklearn_gce._weights import WeightedTarget
from sklearn_gce.losses import FocalLoss


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        240, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    return X.astype(np.float32), y


def _fast(**params):
    return GCEClassifier(
        max_epochs=params.pop("max_epochs", 5), random_state=0, **params
    )


# --- sample weights ---


class _SoftmaxMLP(MLPModule):
    def forward(self, X):
        return torch.softmax(super().forward(X), dim=-1)


CRITERIA = {
    "gce": {"criterion": GCELoss},
    "gce_half": {"criterion": GCELoss, "reg_weight": 0.5},
    "cross_entropy": {"criterion": torch.nn.CrossEntropyLoss},
    "cross_entropy_sum": {
        "criterion": torch.nn.CrossEntropyLoss,
        "criterion__reduction": "sum",
    },
    "nll": {"criterion": torch.nn.NLLLoss, "module": _SoftmaxMLP},
    "focal": {"criterion": FocalLoss},
}


@pytest.mark.parametrize("name", CRITERIA)
def test_integer_weights_equal_repeated_samples_in_the_loss(data, name):
    X, y = data
    labels = np.array(["a", "b", "c"])[y]
    clf = _fast(max_epochs=1, **CRITERIA[name]).fit(X, labels)
    clf.module_.double()
    weights = np.random.default_rng(0).integers(0, 4, len(y))
    weights[0] = 1

    def loss(X, target):
        return clf.get_loss(clf.infer(torch.from_numpy(X).double()), target).item()

    weighted = loss(X, WeightedTarget(labels, torch.from_numpy(weights)))
    repeated = loss(np.repeat(X, weights, axis=0), np.repeat(labels, weights))
    assert weighted == pytest.approx(repeated, rel=1e-12)
    unweighted = loss(X, labels)
    assert weighted != pytest.approx(unweighted, rel=1e-3)


def test_sample_weight_changes_training_and_ones_do_not(data):
    X, y = data
    unweighted = _fast().fit(X, y).predict_proba(X)
    ones = _fast().fit(X, y, sample_weight=np.ones(len(y))).predict_proba(X)
    # the weighted and the unweighted loss code: equal up to float32 rounding
    np.testing.assert_allclose(ones, unweighted, rtol=1e-4, atol=1e-6)
    weights = np.where(y == 0, 5.0, 1.0)
    weighted = _fast().fit(X, y, sample_weight=weights).predict_proba(X)
    assert weighted[:, 0].mean() > unweighted[:, 0].mean() + 0.01


def test_zero_weights_remove_samples(data):
    """Samples of weight zero count as absent (here: a noisy copy of X)."""
    X, y = data
    noise = np.random.default_rng(1).standard_normal(X.shape).astype(np.float32)
    X_both = np.concatenate([X, noise])
    y_both = np.concatenate([y, np.roll(y, 1)])
    weights = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
    params = {"batch_size": -1, "iterator_train__shuffle": False, "max_epochs": 10}
    kept = _fast(**params).fit(X_both, y_both, sample_weight=weights)
    alone = _fast(**params).fit(X, y)
    np.testing.assert_allclose(
        kept.predict_proba(X), alone.predict_proba(X), rtol=1e-4, atol=1e-5
    )


@pytest.mark.filterwarnings("error")
def test_sample_weight_routed_through_pipeline_and_grid_search(data):
    X, y = data
    weights = np.where(y == 2, 4.0, 1.0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            _fast()
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True),
        )
        search = GridSearchCV(pipe, {"gceclassifier__reg_weight": [0.5, 1.0]}, cv=3)
        search.fit(X, y, sample_weight=weights)
        direct = sklearn.clone(pipe).set_params(**search.best_params_)
        direct.fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(
        search.best_estimator_.predict_proba(X), direct.predict_proba(X)
    )
    unweighted = sklearn.clone(direct).fit(X, y)
    assert not np.allclose(unweighted.predict_proba(X), direct.predict_proba(X))


def test_sample_weight_without_routing_through_a_pipeline(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), _fast())
    weights = np.where(y == 2, 4.0, 1.0)
    pipe.fit(X, y, gceclassifier__sample_weight=weights)
    direct = _fast().fit(StandardScaler().fit_transform(X), y, sample_weight=weights)
    np.testing.assert_array_equal(
        pipe.predict_proba(X), direct.predict_proba(StandardScaler().fit_transform(X))
    )


def test_a_criterion_that_cannot_weight_samples_is_refused_before_training(data):
    class MeanOutput(torch.nn.Module):
        def forward(self, y_pred, y_true):
            return y_pred.mean()

    X, y = data
    with pytest.raises(TypeError, match="cannot weight samples"):
        _fast(criterion=MeanOutput).fit(X, y, sample_weight=np.ones(len(y)))


# --- class weights ---


def test_balanced_class_weight_raises_the_minority_recall():
    X, y = make_classification(
        600,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        weights=[0.9, 0.1],
        class_sep=0.5,
        random_state=0,
    )
    X = X.astype(np.float32)
    train = np.arange(len(y)) % 3 != 0
    recall = {
        class_weight: recall_score(
            y[~train],
            _fast(class_weight=class_weight, max_epochs=20)
            .fit(X[train], y[train])
            .predict(X[~train]),
        )
        for class_weight in (None, "balanced")
    }
    assert recall["balanced"] > recall[None] + 0.2


def test_class_weight_dict_equals_sample_weights(data):
    X, y = data
    labels = np.array(["a", "b", "c"])[y]
    by_class = _fast(class_weight={"a": 1.0, "b": 3.0, "c": 0.5}).fit(X, labels)
    weights = np.choose(y, [1.0, 3.0, 0.5])
    by_sample = _fast().fit(X, labels, sample_weight=weights)
    np.testing.assert_array_equal(by_class.predict_proba(X), by_sample.predict_proba(X))
    both = _fast(class_weight={"a": 1.0, "b": 3.0, "c": 0.5})
    both.fit(X, labels, sample_weight=np.full(len(y), 2.0))
    np.testing.assert_allclose(
        both.predict_proba(X), by_sample.predict_proba(X), rtol=1e-4, atol=1e-6
    )


def test_balanced_class_weight_is_refused_by_partial_fit(data):
    X, y = data
    with pytest.raises(ValueError, match="not supported by partial_fit"):
        _fast(class_weight="balanced").partial_fit(X, y)


# --- early stopping ---


class _Snapshots(Callback):
    """The module's parameters at the end of every epoch."""

    def on_train_begin(self, net, **kwargs):
        self.states = []

    def on_epoch_end(self, net, **kwargs):
        self.states.append(copy.deepcopy(net.module_.state_dict()))


def test_early_stopping_stops_and_restores_the_best_epoch(data):
    X, y = data
    snapshots = _Snapshots()
    clf = _fast(
        early_stopping=True,
        n_iter_no_change=3,
        max_epochs=300,
        lr=0.01,
        callbacks=[("snapshots", snapshots)],
    ).fit(X, y)
    history = clf.history
    assert len(history) < 300
    stopping = dict(clf.callbacks_)["early_stopping"]
    best = stopping.best_epoch_
    assert len(history) == best + 3
    for name, value in clf.module_.state_dict().items():
        torch.testing.assert_close(value, snapshots.states[best - 1][name])
    losses = history[:, "valid_loss"]
    # the best epoch improves on all earlier ones by tol at least
    assert all(losses[best - 1] < loss - clf.tol for loss in losses[: best - 1])


def test_early_stopping_holds_out_a_stratified_fraction(data):
    X, y = data
    clf = _fast(early_stopping=True, validation_fraction=0.25)
    train, valid = clf.get_split_datasets(X, y)
    assert len(valid) == 60 and len(train) == 180
    assert np.all(np.abs(np.bincount(y[valid.indices]) - np.bincount(y) / 4) < 1)
    # the same split for the same random_state
    _, again = clf.get_split_datasets(X, y)
    np.testing.assert_array_equal(valid.indices, again.indices)


def test_early_stopping_uses_a_given_train_split(data):
    from skorch.dataset import ValidSplit

    X, y = data
    split = ValidSplit(0.5, stratified=False, random_state=0)
    clf = _fast(early_stopping=True, train_split=split, max_epochs=2).fit(X, y)
    assert clf.history[-1, "valid_loss"] < np.inf
    _, valid = clf.get_split_datasets(X, y)
    assert len(valid) == 120


def test_early_stopping_parameters_are_checked(data):
    X, y = data
    with pytest.raises(ValueError, match="validation_fraction"):
        _fast(early_stopping=True, validation_fraction=1.5).fit(X, y)
    with pytest.raises(ValueError, match="n_iter_no_change"):
        _fast(early_stopping=True, n_iter_no_change=0).fit(X, y)


# --- divergence ---


class _Saturated(torch.nn.Module):
    """Logits so large that every probability is exactly 0 or 1."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(6, 3)
        with torch.no_grad():
            self.linear.weight.mul_(1e7)

    def forward(self, X):
        return self.linear(X)


def test_huge_finite_losses_with_saturated_probabilities_warn(data):
    X, y = data
    clf = _fast(module=_Saturated, optimizer=torch.optim.SGD, lr=1e-30)
    with pytest.warns(ConvergenceWarning, match="exactly 0 or 1"):
        clf.fit(X, y)
    proba = clf.predict_proba(X)
    assert np.all((proba == 0) | (proba == 1))


def test_a_sane_run_does_not_warn(data):
    import warnings

    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fast(max_epochs=20, lr=0.01).fit(X, y)

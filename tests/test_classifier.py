import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.special
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping, EpochScoring, LRScheduler
from skorch.dataset import Dataset, ValidSplit
from skorch.helper import predefined_split
from torch.utils.data import DataLoader

from sklearn_gce import GCEClassifier, GCELoss, MLPModule
from sklearn_gce.batching import BatchIterator
from sklearn_gce.losses import FocalLoss
from sklearn_gce.modules import CNN2dModule


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


@pytest.fixture(scope="module")
def wine():
    return _scaled(load_wine)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=120, centers=3, n_features=4, random_state=0)
    return X.astype(np.float32), y


def _fast(**params):
    return GCEClassifier(
        max_epochs=params.pop("max_epochs", 5), random_state=0, **params
    )


# --- defaults train small tables well, quickly ---


@pytest.mark.parametrize("loader", [load_wine, load_breast_cancer, load_iris])
def test_defaults_reach_good_accuracy(loader):
    X, y = _scaled(loader)
    train = np.arange(len(y)) % 4 != 0
    clf = GCEClassifier(random_state=0).fit(X[train], y[train])
    assert clf.score(X[~train], y[~train]) > 0.9


def test_predict_proba_is_a_probability_matrix(wine):
    X, y = wine
    proba = _fast().fit(X, y).predict_proba(X)
    assert proba.shape == (len(y), 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(proba >= 0)


@pytest.mark.parametrize("batch_size", [64, 100])
def test_probabilities_do_not_depend_on_the_batch(wine, batch_size):
    """Bitwise: a row's probabilities are the same whatever else is predicted
    with it (matrix kernels round differently for different batch shapes,
    so this fails on some CPUs unless every batch has one shape)."""
    X, y = wine
    clf = _fast(batch_size=batch_size).fit(X, y)
    full = clf.predict_proba(X)  # 178 rows: several inference batches
    for n in [*range(1, 70), 127, 128, 129, 150]:
        np.testing.assert_array_equal(clf.predict_proba(X[:n]), full[:n])
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(X))
        np.testing.assert_array_equal(clf.predict_proba(X[order]), full[order])
    np.testing.assert_array_equal(clf.predict_proba(X[40:50]), full[40:50])
    forward = clf.forward(X[3:5]).numpy()  # forward runs at the same shape
    np.testing.assert_array_equal(forward, clf.forward(X).numpy()[3:5])


# --- labels ---


LABELS = [
    np.array(["cat", "dog", "eel"]),
    np.array(["cat", "dog", "eel"], dtype=object),
    np.array([-3, 7, 10]),
    np.array([1.0, 2.0, 4.0]),
    np.array([1, 3, 200], dtype=np.uint8),
    np.array([1, 3, 60000], dtype=np.uint16),
    np.array([1, 3, 2**32 - 1], dtype=np.uint32),
    np.array([1, 3, 2**64 - 1], dtype=np.uint64),  # beyond int64
    np.array([-1, 0, 1], dtype=np.int8),
]


@pytest.mark.parametrize(
    "labels, iterator",
    [(labels, BatchIterator) for labels in LABELS]
    # torch's DataLoader cannot collate integers beyond int64
    + [(labels, DataLoader) for labels in LABELS if labels.dtype != np.uint64],
    ids=lambda value: getattr(value, "__name__", None) or str(value.dtype),
)
def test_labels_of_any_type_give_the_same_model(wine, labels, iterator):
    X, y = wine
    params = {"iterator_train": iterator, "iterator_train__shuffle": True}
    reference = _fast(**params).fit(X, y)
    clf = _fast(**params).fit(X, labels[y])
    np.testing.assert_array_equal(clf.classes_, labels)  # labels are sorted
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
    predicted = clf.predict(X)
    assert predicted.dtype == labels.dtype
    np.testing.assert_array_equal(predicted, labels[reference.predict(X)])


def test_boolean_labels(blobs):
    X, y = blobs
    binary = y == 1
    clf = _fast(max_epochs=10).fit(X, binary)
    np.testing.assert_array_equal(clf.classes_, [False, True])
    assert clf.predict(X).dtype == bool
    assert clf.score(X, binary) > 0.9


def test_one_class_is_learned_and_predicted(blobs):
    X, _ = blobs
    clf = _fast().fit(X, np.full(len(X), "only"))
    np.testing.assert_array_equal(clf.predict(X), "only")
    np.testing.assert_array_equal(clf.predict_proba(X), 1.0)


def test_classes_parameter_adds_columns_for_unseen_classes(blobs):
    X, y = blobs
    clf = _fast(classes=[0, 1, 2, 3]).fit(X, y)
    assert clf.predict_proba(X).shape == (len(y), 4)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2, 3])


def test_classes_parameter_rejects_unknown_labels(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="labels not in classes_"):
        _guarded(classes=[0, 1]).fit(X, y)


def test_classes_parameter_names_indices_as_in_skorch(blobs):
    X, y = blobs
    names = np.array(["zero", "one", "two"])
    with pytest.warns(UserWarning, match="read as indices into classes"):
        clf = _fast(classes=names).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), names[_fast().fit(X, y).predict(X)])


def test_two_dimensional_column_target_warns_and_works(blobs):
    from sklearn.exceptions import DataConversionWarning

    X, y = blobs
    with pytest.warns(DataConversionWarning):
        clf = _fast().fit(X, y[:, None])
    np.testing.assert_array_equal(
        clf.predict_proba(X), _fast().fit(X, y).predict_proba(X)
    )


# --- input types ---


def test_dataframe_sets_feature_names(wine):
    pd = pytest.importorskip("pandas")
    X, y = wine
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = _fast().fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


@pytest.mark.parametrize(
    "dtype", [np.float64, np.float16, np.int64, np.int32, np.uint8]
)
def test_numeric_dtypes_are_accepted(blobs, dtype):
    X, y = blobs
    clf = _fast().fit(X.astype(dtype), y)
    assert clf.predict_proba(X.astype(dtype)).shape == (len(y), 3)


def test_float64_network_gets_float64_input(blobs):
    X, y = blobs

    class DoubleMLP(MLPModule):
        def __init__(self):
            super().__init__(4, 3)
            self.double()

    clf = _fast(module=DoubleMLP).fit(X.astype(np.float64), y)
    assert clf.forward(X).dtype == torch.float64


def test_sparse_input_matches_dense(blobs):
    X, y = blobs
    X = np.where(np.abs(X) > 3, X, 0).astype(np.float32)
    dense = _fast().fit(X, y).predict_proba(X)
    sparse = _fast().fit(sp.csr_matrix(X), y).predict_proba(sp.csr_matrix(X))
    np.testing.assert_allclose(sparse, dense, rtol=1e-6)


def test_torch_tensors_match_numpy(blobs):
    X, y = blobs
    from_numpy = _fast().fit(X, y).predict_proba(X)
    from_tensors = (
        _fast()
        .fit(torch.from_numpy(X), torch.from_numpy(y))
        .predict_proba(torch.from_numpy(X))
    )
    np.testing.assert_array_equal(from_tensors, from_numpy)


def test_torch_dataset_without_y(blobs):
    X, y = blobs
    clf = _fast().fit(Dataset(X, y), None)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.predict(Dataset(X)).shape == (len(y),)
    assert clf.score(X, y) > 0.8


class _TwoInputModule(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(2, 3)
        self.b = torch.nn.Linear(2, 3)

    def forward(self, left, right):
        return self.a(left) + self.b(right)


def test_dict_input_reaches_forward_as_keywords(blobs):
    X, y = blobs
    X_dict = {"left": X[:, :2], "right": X[:, 2:]}
    clf = _fast(module=_TwoInputModule, max_epochs=30, lr=0.01).fit(X_dict, y)
    assert clf.predict_proba(X_dict).shape == (len(y), 3)
    assert clf.score(X_dict, y) > 0.8


class _TinyConvNet(torch.nn.Module):
    def __init__(self, n_classes=3):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.head = torch.nn.Linear(4 * 6 * 6, n_classes)

    def forward(self, X):
        return self.head(torch.relu(self.conv(X)).flatten(1))


def test_images_with_default_and_convolutional_modules():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 90)
    X = rng.standard_normal((90, 1, 8, 8)).astype(np.float32) + y[:, None, None, None]
    for module in (None, _TinyConvNet):
        clf = _fast(module=module, max_epochs=10, lr=0.01).fit(X, y)
        assert clf.score(X, y) > 0.9


# --- reproducibility ---


def test_random_state_gives_identical_probabilities(wine):
    X, y = wine
    first = _fast().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, _fast().fit(X, y).predict_proba(X))
    other = GCEClassifier(max_epochs=5, random_state=1).fit(X, y).predict_proba(X)
    assert not np.allclose(first, other)


def test_random_state_leaves_the_global_torch_state_alone(wine):
    X, y = wine
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _fast().fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_without_random_state_the_global_torch_seed_rules(wine):
    X, y = wine
    probas = []
    for _ in range(2):
        torch.manual_seed(7)
        probas.append(GCEClassifier(max_epochs=3).fit(X, y).predict_proba(X))
    np.testing.assert_array_equal(*probas)


def test_zero_reg_weight_is_cross_entropy_training(wine):
    X, y = wine
    gce0 = _fast(reg_weight=0.0).fit(X, y).predict_proba(X)
    ce = _fast(criterion=torch.nn.CrossEntropyLoss).fit(X, y).predict_proba(X)
    # two float32 loss implementations: equal up to rounding, after 5 epochs
    np.testing.assert_allclose(gce0, ce, rtol=1e-4, atol=1e-6)
    gce1 = _fast().fit(X, y).predict_proba(X)
    assert not np.allclose(gce1, ce)


# --- scikit-learn model selection and persistence ---


def test_grid_search_over_reg_weight_with_string_labels(wine):
    X, y = wine
    labels = np.array(["barolo", "grignolino", "barbera"])[y]
    pipe = make_pipeline(StandardScaler(), GCEClassifier(max_epochs=10, random_state=0))
    search = GridSearchCV(pipe, {"gceclassifier__reg_weight": [0.0, 0.5, 1.0]}, cv=3)
    search.fit(X, labels)
    assert len(search.cv_results_["mean_test_score"]) == 3
    assert search.best_score_ > 0.9
    assert set(search.predict(X)) <= set(labels)


def test_clone_unfitted_and_fitted(wine):
    X, y = wine
    clf = _fast(module__hidden_sizes=(16,), optimizer__weight_decay=1e-4)
    params = clone(clf).get_params()
    assert params["module__hidden_sizes"] == (16,)
    assert params["optimizer__weight_decay"] == 1e-4
    clf.fit(X, y)
    copy = clone(clf)
    assert not copy.initialized_
    np.testing.assert_array_equal(copy.fit(X, y).predict_proba(X), clf.predict_proba(X))


def test_pickle_round_trip(wine):
    X, y = wine
    clf = _fast().fit(X, np.array(list("abc"))[y])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


def test_save_params_and_load_params(wine, tmp_path):
    X, y = wine
    clf = _fast().fit(X, y)
    clf.save_params(f_params=tmp_path / "params.pt")
    fresh = GCEClassifier(module__n_features=13, module__n_classes=3, classes=[0, 1, 2])
    fresh.initialize().load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))


def test_interrupted_save_params_keeps_the_previous_files(wine, tmp_path, monkeypatch):
    X, y = wine
    clf = _fast().fit(X, y)
    paths = {"f_params": tmp_path / "params.pt", "f_history": tmp_path / "h.json"}
    clf.save_params(**paths)
    before = {name: path.read_bytes() for name, path in paths.items()}

    def interrupted(obj, f, *args, **kwargs):
        with open(f, "wb") as file:
            file.write(b"half a file")
        raise KeyboardInterrupt

    clf.fit(X, y)  # other parameters to save
    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        clf.save_params(**paths)
    assert {name: path.read_bytes() for name, path in paths.items()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.json", "params.pt"]
    monkeypatch.undo()
    clf.save_params(**paths)  # a file object works too, as in skorch
    assert paths["f_params"].read_bytes() != before["f_params"]


def test_joblib_dump_and_load(wine, tmp_path):
    X, y = wine
    clf = _fast().fit(X, y)
    joblib.dump(clf, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


# --- skorch features keep working ---


def test_swapping_in_for_neural_net_classifier(wine):
    X, y = wine
    common = {
        "module": MLPModule,
        "module__n_features": 13,
        "module__n_classes": 3,
        "criterion": torch.nn.CrossEntropyLoss,
        "optimizer": torch.optim.Adam,
        "max_epochs": 5,
        "lr": 0.01,
        "batch_size": 32,
        "train_split": None,
        "verbose": 0,
    }
    torch.manual_seed(0)
    skorch_net = NeuralNetClassifier(**common).fit(X, y)
    torch.manual_seed(0)
    ours = GCEClassifier(iterator_train__shuffle=False, **common).fit(X, y)
    np.testing.assert_allclose(
        ours.predict_proba(X), skorch_net.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(ours.predict(X), skorch_net.predict(X))


class _SoftmaxMLP(MLPModule):
    def forward(self, X):
        return torch.softmax(super().forward(X), dim=-1)


def test_nll_loss_on_a_probability_module(wine):
    X, y = wine
    clf = _fast(
        module=_SoftmaxMLP,
        module__n_features=13,
        module__n_classes=3,
        criterion=torch.nn.NLLLoss,
        max_epochs=20,
    ).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert clf.score(X, y) > 0.9


def test_nll_loss_on_a_logit_module_warns_and_gives_probabilities(wine):
    X, y = wine
    clf = _fast(criterion=torch.nn.NLLLoss, max_epochs=0).fit(X, y)
    with pytest.warns(UserWarning, match="should return probabilities"):
        proba = clf.predict_proba(X)
    logits = clf.forward(X).double().numpy()
    np.testing.assert_allclose(proba, scipy.special.softmax(logits, axis=1))


class _WeightedCE(torch.nn.Module):
    """A criterion on logits that no list of known criteria would contain."""

    def forward(self, logits, target):
        return torch.nn.functional.cross_entropy(logits, target, label_smoothing=0.1)


def test_an_unknown_criterion_gets_probabilities_not_logits(wine):
    X, y = wine
    clf = _fast(criterion=_WeightedCE).fit(X, y)
    proba = clf.predict_proba(X)
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(
        proba, torch.softmax(clf.forward(X).double(), -1).numpy(), rtol=1e-12
    )


def test_custom_predict_nonlinearity_and_other_criteria(wine):
    X, y = wine
    clf = _fast(predict_nonlinearity=None).fit(X, y)
    logits = clf.predict_proba(X)
    assert np.any(logits < 0)  # raw module output
    focal = _fast(criterion=FocalLoss, criterion__gamma=2.0).fit(X, y)
    np.testing.assert_allclose(focal.predict_proba(X).sum(axis=1), 1.0)


def test_internal_validation_split_and_history(wine):
    X, y = wine
    labels = np.array(["x", "y", "z"])[y]
    clf = _fast(train_split=ValidSplit(0.25, stratified=True), max_epochs=15)
    clf.fit(X, labels)
    history = clf.history
    assert len(history) == 15
    assert {"train_loss", "valid_loss", "valid_acc", "dur"} <= set(history[-1])
    assert history[-1, "valid_acc"] > 0.85  # labels compared with labels


def test_predefined_split_with_string_labels(wine):
    X, y = wine
    labels = np.array(["x", "y", "z"])[y]
    valid = Dataset(X[::4], labels[::4])
    clf = _fast(train_split=predefined_split(valid), max_epochs=15).fit(X, labels)
    assert clf.history[-1, "valid_acc"] > 0.85


def test_callbacks_and_virtual_params(wine):
    X, y = wine
    clf = _fast(
        max_epochs=50,
        train_split=ValidSplit(0.25, stratified=True),
        callbacks=[
            # GCE losses can be negative: relative thresholds would misbehave
            ("stop", EarlyStopping(patience=3, threshold=1e-3, threshold_mode="abs")),
            (
                "lr",
                LRScheduler(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5),
            ),
            ("acc", EpochScoring("accuracy", on_train=True, name="train_acc")),
        ],
    ).fit(X, y)
    assert len(clf.history) < 50
    assert "train_acc" in clf.history[0]  # the stopping epoch ends early
    clf.set_params(optimizer__lr=0.123)
    assert clf.optimizer_.param_groups[0]["lr"] == 0.123


def test_verbose_prints_the_epoch_table(wine, capsys):
    X, y = wine
    _fast(max_epochs=2).fit(X, y)
    assert capsys.readouterr().out == ""
    _fast(max_epochs=2, verbose=1).fit(X, y)
    assert "train_loss" in capsys.readouterr().out


def test_warm_start_continues_training(wine):
    X, y = wine
    clf = _fast(warm_start=True, max_epochs=3)
    clf.fit(X, y)
    module = clf.module_
    clf.fit(X, y)
    assert clf.module_ is module and len(clf.history) == 6


def test_partial_fit_with_classes(wine):
    X, y = wine
    clf = _fast(max_epochs=2)
    first = y < 2
    clf.partial_fit(X[first], y[first], classes=[0, 1, 2])
    clf.partial_fit(X[~first], y[~first])
    assert clf.predict_proba(X).shape == (len(y), 3)
    assert len(clf.history) == 4
    with pytest.raises(ValueError, match="labels not in classes_"):
        clf.partial_fit(X[:5], np.full(5, 9))


def test_partial_fit_refuses_other_classes(wine):
    X, y = wine
    clf = _fast(max_epochs=1).partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y, classes=[2, 1, 0])  # the same classes
    with pytest.raises(ValueError, match="differs from the classes of the first"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="differs"):
        _fast(classes=[0, 1, 2]).partial_fit(X, y, classes=[0, 1])


def test_initialize_then_fit_or_partial_fit(wine):
    """skorch's pattern: initialize (e.g. to load parameters), then train."""
    X, y = wine
    kwargs = {"module__n_features": 13, "module__n_classes": 3}
    net = _fast(**kwargs).initialize()
    module = net.module_
    net.partial_fit(X, y)
    assert net.module_ is module and len(net.history) == 5
    np.testing.assert_array_equal(net.classes_, [0, 1, 2])
    assert _fast(**kwargs).initialize().fit(X, y).score(X, y) > 0.8


def test_forward_and_infer_return_logits(wine):
    X, y = wine
    clf = _fast().fit(X, y)
    logits = clf.forward(X)
    assert isinstance(logits, torch.Tensor) and logits.shape == (len(y), 3)
    np.testing.assert_allclose(
        torch.softmax(logits.double(), -1).numpy(), clf.predict_proba(X), rtol=1e-12
    )
    torch.testing.assert_close(clf.infer(torch.from_numpy(X[:4])), logits[:4])


def test_set_params_reg_weight_reaches_the_criterion(wine):
    X, y = wine
    clf = _fast().fit(X, y)
    clf.set_params(reg_weight=0.25)
    assert clf.criterion_.reg_weight == 0.25


# --- networks sized from the data ---


class _SizedModule(torch.nn.Module):
    """Requires every size the classifier can give; records what it got."""

    def __init__(self, n_features, input_shape, n_classes, width=8):
        super().__init__()
        self.sizes = (n_features, input_shape, n_classes, width)
        self.layers = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(n_features, width),
            torch.nn.ReLU(),
            torch.nn.Linear(width, n_classes),
        )

    def forward(self, X):
        return self.layers(X)


class _DefaultSizes(_SizedModule):
    def __init__(self, n_features=64, input_shape=(1, 8, 8), n_classes=4):
        super().__init__(n_features, input_shape, n_classes)


def _images(n=90):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    X = rng.standard_normal((n, 1, 8, 8)).astype(np.float32) + y[:, None, None, None]
    return X, y


def test_required_sizes_come_from_the_data():
    X, y = _images()
    clf = _fast(module=_SizedModule).fit(X, y)
    assert clf.module_.sizes == (64, (1, 8, 8), 3, 8)
    clf = _fast(module=_SizedModule, module__width=5, classes=[0, 1, 2, 3]).fit(X, y)
    assert clf.module_.sizes == (64, (1, 8, 8), 4, 5)


def test_sizes_set_by_the_user_or_with_defaults_are_kept():
    X, y = _images()
    clf = _fast(module=_SizedModule, module__n_classes=3, module__n_features=64)
    assert clf.fit(X, y).module_.sizes[0] == 64
    # a default is the module's choice (skorch would keep it too): here it
    # does not fit the data, which is reported
    with pytest.raises(ValueError, match="4 outputs per sample but there are 3"):
        _fast(module=_DefaultSizes).fit(X, y)


def test_values_too_large_for_float32_are_refused(blobs):
    X, y = blobs
    huge = X.astype(np.float64) * 1e300
    with pytest.raises(ValueError, match="too large for the network's torch.float32"):
        _fast().fit(huge, y)  # when the data is cast, before the first batch
    clf = _fast().fit(X, y)
    with pytest.raises(ValueError, match="too large"):
        clf.predict(huge)


def test_a_dict_input_has_no_sizes_for_the_default_network(blobs):
    X, y = blobs
    with pytest.raises(TypeError, match="not a dict.*module__n_features"):
        _guarded().fit({"a": X}, y)


def test_required_sizes_before_fit_are_a_clear_type_error():
    with pytest.raises(TypeError, match="requires n_features and input_shape and "):
        GCEClassifier(_SizedModule).initialize()
    with pytest.raises(TypeError, match="module__n_features"):
        GCEClassifier().initialize()


def test_library_cnn_sized_from_images():
    X, y = _images()
    clf = _fast(module=CNN2dModule, max_epochs=10, lr=0.01).fit(X, y)
    assert clf.module_.head[-1].out_features == 3
    assert clf.score(X, y) > 0.9


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors:UserWarning")
def test_a_hidden_layer_of_width_zero_is_refused(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="layer of width 0"):
        _guarded(module__hidden_sizes=(8, 0)).fit(X, y)


@pytest.mark.parametrize("n_outputs", [2, 5])
def test_an_output_width_other_than_the_classes_is_refused(blobs, n_outputs):
    X, y = blobs
    clf = _fast(module__n_classes=n_outputs, criterion=torch.nn.CrossEntropyLoss)
    # at the first batch, before any step of the optimizer
    with pytest.raises(ValueError, match=f"{n_outputs} outputs per sample"):
        clf.fit(X, y)


# --- the batch of one sample ---


def _train_batch_sizes(clf):
    return [batch["train_batch_size"] for batch in clf.history[-1]["batches"]]


def test_last_batch_of_one_sample_is_merged(blobs):
    X, y = blobs
    clf = _fast(batch_size=17, max_epochs=1).fit(X[:52], y[:52])  # 17+17+18
    assert _train_batch_sizes(clf) == [17, 17, 18]


def test_a_loader_yielding_one_sample_batches_is_refused(blobs):
    X, y = blobs
    clf = _fast(batch_size=17, iterator_train=DataLoader, max_epochs=1)
    with pytest.raises(ValueError, match="batch of one sample"):
        clf.fit(X[:52], y[:52])
    # cross-entropy has a gradient on one sample: no reason to refuse
    _fast(batch_size=17, iterator_train=DataLoader, reg_weight=0.0).fit(X[:52], y[:52])


# --- bad input, caught before any training ---


class _RecordTraining(Callback):
    def on_train_begin(self, net, **kwargs):
        raise AssertionError("training started")


def _guarded(**params):
    return _fast(callbacks=[("guard", _RecordTraining())], **params)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_inputs(blobs, value):
    X, y = blobs
    X_bad = X.copy()
    X_bad[3, 1] = value
    with pytest.raises(ValueError, match="NaN|infinity"):
        _guarded().fit(X_bad, y)
    with pytest.raises(ValueError, match="NaN|infinity"):
        _guarded().fit(torch.from_numpy(X_bad), y)
    clf = _fast().fit(X, y)
    with pytest.raises(ValueError, match="NaN|infinity"):
        clf.predict(X_bad)


def test_wrong_number_of_features_at_predict(blobs):
    X, y = blobs
    clf = _fast().fit(X, y)
    with pytest.raises(
        ValueError, match="X has 3 features, but GCEClassifier is expecting 4"
    ):
        clf.predict_proba(X[:, :3])
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.predict_proba(torch.from_numpy(X[:, :3]))


def test_predict_before_fit(blobs):
    X, _ = blobs
    with pytest.raises(NotFittedError):
        GCEClassifier().predict(X)
    with pytest.raises(NotFittedError):
        GCEClassifier().predict_proba(X)


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.ones((5, 2)), np.linspace(0, 1, 5), "Unknown label type"),
        (np.ones((0, 2)), np.zeros(0), "0 sample"),
        (np.ones((5, 0)), np.arange(5) % 2, "0 feature"),
        (np.ones((5, 2)), None, "requires y"),
        (np.ones((5, 2)), np.arange(4) % 2, "inconsistent numbers of samples"),
        (np.array([["a", "b"]] * 4), np.arange(4) % 2, "could not convert|numeric"),
    ],
)
def test_bad_training_data(X, y, match):
    with pytest.raises(ValueError, match=match):
        _guarded().fit(X, y)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"reg_weight": -1.0}, ValueError, "reg_weight"),
        ({"reg_weight": 1.5}, ValueError, "unbounded below"),
        ({"reg_weight": np.nan}, ValueError, "reg_weight"),
        ({"reg_weight": np.inf}, ValueError, "reg_weight"),
        ({"reg_weight": "big"}, ValueError, "reg_weight"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"max_epochs": -1}, ValueError, "max_epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"criterion__reg_weight": 0.5}, ValueError, "not criterion__reg_weight"),
        (
            {"criterion": GCELoss(reg_weight=0.5)},
            ValueError,
            "conflicts with reg_weight",
        ),
        ({"classes": [1]}, ValueError, "labels not in classes_"),
        ({"classes": [0, 1, 1, 2]}, ValueError, "distinct"),
        ({"max_epoch": 3}, ValueError, "unexpected argument"),
    ],
)
def test_bad_parameters(blobs, params, error, match):
    X, y = blobs
    with pytest.raises(error, match=match):
        _guarded(**params).fit(X, y)


def test_cuda_request_without_cuda(blobs):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    X, y = blobs
    with pytest.raises(ValueError, match="CUDA is not available"):
        _guarded(device="cuda").fit(X, y)


def test_diverging_training_warns_and_predict_refuses(blobs):
    X, y = blobs
    clf = _fast(optimizer=torch.optim.SGD, lr=1e30, max_epochs=20)
    with pytest.warns(ConvergenceWarning, match="training diverged") as record:
        clf.fit(X * 1e10, y)
    assert len(record) == 1  # once per fit, not once per batch
    with pytest.raises(FloatingPointError, match="non-finite"):
        clf.predict_proba(X)


# --- CUDA, when there is one ---


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_matches_cpu(wine):
    X, y = wine
    cpu = _fast().fit(X, y)
    gpu = _fast(device="cuda").fit(X, y)
    assert next(gpu.module_.parameters()).is_cuda
    proba = gpu.predict_proba(X)
    assert isinstance(proba, np.ndarray)
    np.testing.assert_allclose(proba, cpu.predict_proba(X), atol=1e-3)
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_allclose(restored.predict_proba(X), proba, atol=1e-6)


def test_validation_ece_logged_every_epoch(wine):
    from sklearn_gce.metrics import (
        expected_calibration_error,
        neg_expected_calibration_error_scorer,
    )

    X, y = wine
    labels = np.array(["x", "y", "z"])[y]
    ece = EpochScoring(
        neg_expected_calibration_error_scorer,
        name="valid_neg_ece",
        lower_is_better=False,
    )
    clf = _fast(
        max_epochs=4,
        train_split=ValidSplit(0.25, stratified=True, random_state=0),
        callbacks=[("valid_ece", ece)],
    ).fit(X, labels)
    scores = clf.history[:, "valid_neg_ece"]
    assert len(scores) == 4 and all(-1 <= s <= 0 for s in scores)
    # the logged value is the ECE of the final network on the validation split
    _, valid = ValidSplit(0.25, stratified=True, random_state=0)(
        Dataset(X, labels), labels
    )
    idx = valid.indices
    expected = expected_calibration_error(
        labels[idx], clf.predict_proba(X[idx]), labels=clf.classes_
    )
    assert scores[-1] == pytest.approx(-expected)


@pytest.mark.parametrize("name", ["classifier", "_labels", "_validation"])
def test_docstring_examples(name):
    import doctest
    import importlib

    module = importlib.import_module(f"sklearn_gce.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from skorch.callbacks import Callback

from sklearn_gce import CNN2dModule, GCEClassifier, MLPModule
from sklearn_gce._threads import SMALL_WORK, num_threads, threads_for

OUTSIDE = 2  # torch's setting around the calls (the suite runs on one thread)


@pytest.fixture(autouse=True)
def _two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(OUTSIDE)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=80, centers=3, n_features=4, random_state=0)
    return X.astype(np.float32), y


class _Recording(MLPModule):
    """An MLP that records torch's threads at each forward pass, and can fail."""

    def __init__(self, n_features, n_classes):
        super().__init__(n_features, n_classes, hidden_sizes=(8,))
        self.seen = set()
        self.fail = False

    def forward(self, X):
        self.seen.add(torch.get_num_threads())
        if self.fail:
            raise RuntimeError("forward failed")
        return super().forward(X)


def _fit(data, **params):
    return GCEClassifier(_Recording, max_epochs=2, random_state=0, **params).fit(*data)


def test_auto_runs_a_small_network_on_one_thread_and_restores(data):
    clf = _fit(data)
    assert clf.module_.seen == {1}
    assert torch.get_num_threads() == OUTSIDE
    clf.module_.seen.clear()
    clf.predict(data[0])
    assert clf.module_.seen == {1}
    assert torch.get_num_threads() == OUTSIDE


@pytest.mark.parametrize("n_threads", [1, 3])
def test_an_integer_is_honoured_and_restored(data, n_threads):
    clf = _fit(data, torch_threads=n_threads)
    assert clf.module_.seen == {n_threads}
    clf.module_.seen.clear()
    clf.predict_proba(data[0])
    assert clf.module_.seen == {n_threads}
    assert torch.get_num_threads() == OUTSIDE


def test_none_leaves_torch_alone(data):
    clf = _fit(data, torch_threads=None)
    assert clf.module_.seen == {OUTSIDE}
    torch.set_num_threads(3)
    clf.module_.seen.clear()
    clf.predict(data[0])
    assert clf.module_.seen == {3}


def test_the_setting_is_restored_when_a_call_raises(data):
    clf = _fit(data, warm_start=True)
    clf.module_.fail = True
    with pytest.raises(RuntimeError, match="forward failed"):
        clf.predict_proba(data[0])
    assert torch.get_num_threads() == OUTSIDE
    with pytest.raises(RuntimeError, match="forward failed"):
        clf.fit(*data)
    assert torch.get_num_threads() == OUTSIDE
    with pytest.raises(RuntimeError, match="forward failed"):
        clf.partial_fit(*data)
    assert torch.get_num_threads() == OUTSIDE


def test_auto_keeps_torch_setting_for_a_large_cnn():
    X, y = make_blobs(n_samples=64, centers=3, n_features=64, random_state=0)
    X = X.astype(np.float32).reshape(-1, 1, 8, 8)
    seen = []

    class Large(CNN2dModule):
        def forward(self, X):
            seen.append(torch.get_num_threads())
            return super().forward(X)

    clf = GCEClassifier(
        Large, module__channels=(256, 512), max_epochs=1, random_state=0
    ).fit(X, y)
    assert sum(p.numel() for p in clf.module_.parameters()) >= 1_000_000
    assert set(seen) == {OUTSIDE}
    assert torch.get_num_threads() == OUTSIDE


def test_auto_picks_one_thread_for_the_default_mlp_on_digits_sized_data():
    module = MLPModule(64, 10)  # the default network on digits
    assert threads_for("auto", module, 64) == 1
    assert threads_for("auto", module, None) is None  # unknown batch: large


def test_auto_keeps_torch_setting_off_the_cpu():
    with torch.device("meta"):  # parameters off the CPU, as on a GPU
        module = MLPModule(64, 10)
    assert threads_for("auto", module, 64) is None


def test_the_threshold_is_on_parameters_times_batch_rows():
    module = torch.nn.Linear(999, 1000, bias=False)  # 999 000 parameters
    assert SMALL_WORK == 10_000_000
    assert threads_for("auto", module, 10) == 1
    assert threads_for("auto", module, 11) is None


def test_num_threads_restores_on_exception():
    with pytest.raises(KeyError), num_threads(1):
        assert torch.get_num_threads() == 1
        raise KeyError
    assert torch.get_num_threads() == OUTSIDE


@pytest.mark.parametrize("value", [0, -1, "all", 1.5])
def test_invalid_torch_threads_are_refused(data, value):
    with pytest.raises(ValueError, match="torch_threads"):
        _fit(data, torch_threads=value)
    assert torch.get_num_threads() == OUTSIDE


def test_auto_runs_the_default_mlp_on_one_thread(data):
    seen = []

    class Record(Callback):
        def on_batch_end(self, net, **kwargs):
            seen.append(torch.get_num_threads())

    GCEClassifier(max_epochs=1, callbacks=[Record()], random_state=0).fit(*data)
    assert set(seen) == {1}
    assert torch.get_num_threads() == OUTSIDE


def test_docstring_examples():
    import doctest

    from sklearn_gce import _threads

    result = doctest.testmod(_threads)
    assert result.failed == 0 and result.attempted > 0
    assert torch.get_num_threads() == OUTSIDE

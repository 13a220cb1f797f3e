import random

import numpy as np
import pytest

from sklearn_gce.datasets import (
    DATASETS,
    DatasetError,
    dataset_names,
    load_csv,
    load_dataset,
    long_tailed_indices,
    split_dataset,
)

# --- embedded datasets ---


def test_digits_is_embedded_and_described():
    data = load_dataset("digits")
    assert data.X.shape == (1797, 64) and data.X.dtype == np.float64
    assert data.classes.tolist() == list(range(10))
    assert len(data.feature_names) == 64 and data.imbalance_ratio is None
    assert "digits" in data.description and data.name == "digits"


@pytest.mark.parametrize("name", ["Digits-LT10", " digits-lt100 "])
def test_long_tailed_names(name):
    data = load_dataset(name)
    assert data.imbalance_ratio in (10.0, 100.0)
    assert data.name == name.strip().lower()
    assert "long-tailed" in data.description
    assert data.X.shape == (1797, 64)  # subsampling happens at the split


@pytest.mark.parametrize("name", ["cifar10", "digits-lt1", "digits-ltx", "", "lt10"])
def test_unknown_names_are_refused(name):
    with pytest.raises(DatasetError, match="digits"):
        load_dataset(name)


def test_dataset_names():
    assert dataset_names() == ["digits", "mnist1d"] == DATASETS.names()
    for entry in DATASETS:
        assert entry.description and entry.param is None


def test_images_and_signals_know_their_sample_shape():
    digits = load_dataset("digits-lt10")
    assert digits.sample_shape == (1, 8, 8)
    assert split_dataset(digits, 0).sample_shape == (1, 8, 8)
    # an image's pixels in row order
    from sklearn.datasets import load_digits

    assert np.array_equal(
        digits.X.reshape(-1, 1, 8, 8)[:, 0], load_digits().images.astype(float)
    )


def test_mnist1d_signals_have_their_sample_shape(monkeypatch):
    from sklearn_gce import datasets

    arrays = (np.zeros((20, 40)), np.arange(20) % 10)
    monkeypatch.setattr(datasets, "_mnist1d_arrays", lambda: arrays)
    assert load_dataset("mnist1d-lt10").sample_shape == (1, 40)


def test_mnist1d_is_generated_offline_without_leaking_global_random_state():
    # with the network blocked and the global generators seeded with 123; on
    # 500 signals (the 10 000 of the dataset take seconds: see the next test)
    pytest.importorskip("mnist1d")
    import socket

    from sklearn_gce import datasets

    def no_network(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    np.random.seed(123)  # noqa: NPY002 (the global state is under test)
    random.seed(123)
    expected = (np.random.random(3), random.random())  # noqa: NPY002
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "create_connection", no_network)
        patch.setattr(socket.socket, "connect", no_network)
        np.random.seed(123)  # noqa: NPY002
        random.seed(123)
        X, y = datasets._mnist1d_arrays(500)  # connections raise AssertionError
        after = (np.random.random(3), random.random())  # noqa: NPY002
    # mnist1d seeds both global generators with 42; they must be as before
    assert np.array_equal(after[0], expected[0])
    assert after[1] == expected[1]
    assert X.shape == (500, 40) and set(y) == set(range(10))


@pytest.mark.slow
def test_mnist1d_is_a_fixed_set_of_10000_signals():
    pytest.importorskip("mnist1d")
    from sklearn_gce import datasets

    datasets._mnist1d_arrays.cache_clear()
    data = load_dataset("mnist1d")
    assert data.X.shape == (10_000, 40)
    assert np.bincount(data.y).tolist() == [1000] * 10
    again = load_dataset("mnist1d")
    assert np.array_equal(again.X, data.X)  # a fixed dataset, cached
    assert load_dataset("mnist1d-lt10").X.shape == (10_000, 40)


def test_mnist1d_missing_package_is_a_clear_error(monkeypatch):
    import sys

    from sklearn_gce import datasets

    datasets._mnist1d_arrays.cache_clear()
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(DatasetError, match="pip install mnist1d"):
        load_dataset("mnist1d")
    datasets._mnist1d_arrays.cache_clear()


# --- long-tailed subsampling ---


def test_long_tailed_profile_is_exponential():
    y = np.repeat(np.arange(10), 120)
    counts = np.bincount(y[long_tailed_indices(y, 100, random_state=0)])
    expected = np.floor(120 * 100.0 ** (-np.arange(10) / 9) + 1e-9)
    assert counts.tolist() == expected.astype(int).tolist()
    assert counts[0] == 120 and counts[-1] == 1  # ratio 120 / 1.2 -> floor 1


def test_long_tailed_uses_smallest_class_and_labels_in_sorted_order():
    y = np.array(["b"] * 50 + ["a"] * 40 + ["c"] * 60)
    kept = y[long_tailed_indices(y, 10, random_state=0)]
    labels, counts = np.unique(kept, return_counts=True)
    assert labels.tolist() == ["a", "b", "c"]
    assert counts.tolist() == [40, 12, 4]  # 40 * 10 ** (-k / 2)


def test_long_tailed_indices_depend_on_the_seed_only():
    y = np.repeat(np.arange(3), 50)
    first = long_tailed_indices(y, 10, random_state=1)
    assert np.array_equal(first, long_tailed_indices(y, 10, random_state=1))
    assert not np.array_equal(first, long_tailed_indices(y, 10, random_state=2))
    assert np.array_equal(first, np.unique(first))


def test_long_tailed_rejects_ratio_below_one():
    with pytest.raises(ValueError, match="imbalance_ratio"):
        long_tailed_indices([0, 1], 0.5)


# --- splitting ---


def _rows(X):
    return {row.tobytes() for row in X}


def test_split_is_a_stratified_partition():
    data = load_dataset("digits")
    split = split_dataset(data, 0)
    parts = [split.X_train, split.X_calib, split.X_test]
    assert sum(len(p) for p in parts) == len(data.y)
    assert split.sizes == {"train": 1077, "calibration": 360, "test": 360}
    all_rows = _rows(data.X)
    seen = set()
    for part in parts:
        rows = _rows(part)
        assert not rows & seen
        seen |= rows
    assert len(seen) == len(all_rows)
    for y_part in (split.y_train, split.y_calib, split.y_test):
        share = np.bincount(y_part, minlength=10) / len(y_part)
        assert np.abs(share - np.bincount(data.y) / len(data.y)).max() < 0.01


def test_split_depends_on_the_seed_only():
    data = load_dataset("digits")
    a, b, c = split_dataset(data, 3), split_dataset(data, 3), split_dataset(data, 4)
    assert np.array_equal(a.X_test, b.X_test) and np.array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.X_test, c.X_test)


def test_long_tail_changes_the_training_split_only():
    balanced = split_dataset(load_dataset("digits"), 5)
    tailed = split_dataset(load_dataset("digits-lt10"), 5)
    assert np.array_equal(tailed.X_calib, balanced.X_calib)
    assert np.array_equal(tailed.X_test, balanced.X_test)
    assert _rows(tailed.X_train) <= _rows(balanced.X_train)
    counts = np.bincount(tailed.y_train)
    assert np.all(np.diff(counts) <= 0)
    assert counts[0] == np.bincount(balanced.y_train).min()
    assert 9 <= counts[0] / counts[-1] <= 11


def test_unknown_classes_are_held_out():
    data = load_dataset("digits")
    split = split_dataset(data, 0, unknown_classes=[8, 9])
    for y_part in (split.y_train, split.y_calib, split.y_test):
        assert set(np.unique(y_part)) == set(range(8))
    assert _rows(split.X_unknown) == _rows(data.X[data.y >= 8])
    assert split.sizes["unknown"] == int((data.y >= 8).sum())


@pytest.mark.parametrize(
    "unknown, message",
    [([42], "not classes"), (list(range(1, 10)), "two known classes")],
)
def test_bad_unknown_classes(unknown, message):
    with pytest.raises(DatasetError, match=message):
        split_dataset(load_dataset("digits"), 0, unknown_classes=unknown)


def test_split_refuses_tiny_classes():
    from sklearn_gce.datasets import Dataset

    data = Dataset(
        X=np.arange(20.0).reshape(10, 2),
        y=np.array([0] * 8 + [1] * 2),
        feature_names=("a", "b"),
        name="tiny",
        description="",
    )
    with pytest.raises(DatasetError, match="class 1 has 2 sample"):
        split_dataset(data, 0)


@pytest.mark.parametrize("dataset", ["digits", "digits-lt10"])
@pytest.mark.parametrize("train_size", [0.25, 100, 1.0])
def test_train_size_subsamples_the_training_split_only(dataset, train_size):
    data = load_dataset(dataset)
    whole = split_dataset(data, 2)
    part = split_dataset(data, 2, train_size=train_size)
    assert np.array_equal(part.X_calib, whole.X_calib)
    assert np.array_equal(part.y_calib, whole.y_calib)
    assert np.array_equal(part.X_test, whole.X_test)
    assert np.array_equal(part.y_test, whole.y_test)
    assert _rows(part.X_train) <= _rows(whole.X_train)
    n_whole = len(whole.y_train)
    if isinstance(train_size, float):
        assert len(part.y_train) == round(train_size * n_whole)
    else:
        assert len(part.y_train) == train_size
    if train_size == 1.0:
        assert np.array_equal(part.X_train, whole.X_train)
        assert split_dataset(data, 2, train_size=n_whole).sizes == whole.sizes
    # stratified: every class keeps its share, to within one sample
    share = len(part.y_train) / n_whole
    counts = np.bincount(whole.y_train, minlength=10) * share
    assert np.abs(np.bincount(part.y_train, minlength=10) - counts).max() <= 1
    again = split_dataset(data, 2, train_size=train_size)
    assert np.array_equal(again.X_train, part.X_train)


@pytest.mark.parametrize(
    "train_size, error, message",
    [
        (2000, DatasetError, "more than the 1077 samples"),
        (5, DatasetError, "leaves class .* without training samples"),
        (0, ValueError, "at least 1"),
        (1.5, ValueError, "fraction in \\(0, 1\\]"),
        (0.0, ValueError, "fraction"),
        (float("nan"), ValueError, "fraction"),
        ("half", TypeError, "a number or None"),
        (True, TypeError, "a number or None"),
    ],
)
def test_bad_train_size(train_size, error, message):
    with pytest.raises(error, match=message):
        split_dataset(load_dataset("digits"), 0, train_size=train_size)


@pytest.mark.parametrize(
    "sizes",
    [{"calib_size": 0.0}, {"test_size": 1.0}, {"calib_size": 0.5, "test_size": 0.5}],
)
def test_split_sizes_are_checked(sizes):
    with pytest.raises(ValueError, match="size"):
        split_dataset(load_dataset("digits"), 0, **sizes)


# --- the user's CSV ---


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_string_labels(tmp_path):
    path = _write(tmp_path, "a, b ,kind\n1,2.5,cat\n3,-4e1,dog\n\n5,6,cat\n")
    data = load_csv(path, "kind")
    assert data.X.tolist() == [[1.0, 2.5], [3.0, -40.0], [5.0, 6.0]]
    assert data.y.tolist() == ["cat", "dog", "cat"]
    assert data.feature_names == ("a", "b") and data.name == str(path)
    assert "3 rows, 2 features, 2 classes" in data.description


def test_csv_with_integer_labels_semicolons_and_a_bom(tmp_path):
    path = _write(tmp_path, "\ufeffy;x1;x2\n0;1;2\n1;3;4\n2;5;6\n")
    data = load_csv(path, "y", imbalance_ratio=10)
    assert data.y.dtype.kind == "i" and data.y.tolist() == [0, 1, 2]
    assert data.feature_names == ("x1", "x2") and data.imbalance_ratio == 10.0


@pytest.mark.parametrize(
    "text, target, message",
    [
        ("a,b,y\n1,2,u\n3,4,u\n", "y", "single class \\('u'\\)"),
        ("a,b,y\n1,2,u\n3,4,v\n", "label", "no column 'label'.*a, b, y"),
        ("a,colour,y\n1,red,u\n3,blue,v\n", "y", "column 'colour' .*not numeric"),
        ("a,b,y\n1,,u\n3,4,v\n", "y", "line 2: missing value in column 'b'"),
        ("a,b,y\n1,nan,u\n3,4,v\n", "y", "finite"),
        ("a,b,y\n1,2,u\n3,4\n", "y", "line 3: 2 fields"),
        ("a,b,y\n1,2,\n3,4,v\n", "y", "target column 'y' is empty"),
        ("a,b,y\n", "y", "no data rows"),
        ("", "y", "is empty"),
        ("y\nu\nv\n", "y", "no feature columns"),
        ("y,a,y\n1,2,3\n", "y", "more than one column"),
    ],
)
def test_bad_csv_gets_one_clear_error(tmp_path, text, target, message):
    with pytest.raises(DatasetError, match=message) as info:
        load_csv(_write(tmp_path, text), target)
    assert "\n" not in str(info.value)


def test_csv_duplicate_feature_names_keep_both_columns(tmp_path):
    data = load_csv(_write(tmp_path, "a,a,y\n1,5,u\n2,6,v\n"), "y")
    assert data.feature_names == ("a", "a")
    np.testing.assert_array_equal(data.X, [[1, 5], [2, 6]])


def test_csv_labels_beyond_int64_are_text(tmp_path):
    big = 2**64 + 1
    path = _write(tmp_path, f"a,y\n1,{big}\n2,{big + 1}\n3,-{big}\n")
    data = load_csv(path, "y")
    assert data.y.tolist() == [str(big), str(big + 1), f"-{big}"]


@pytest.mark.parametrize("value", ["1e300", "-1e300", "1e155"])
def test_csv_features_too_large_to_standardise(tmp_path, value):
    path = _write(tmp_path, f"a,b,y\n1,{value},u\n2,1,v\n3,2,u\n")
    with pytest.raises(DatasetError, match="column 'b' .* too large to standardise"):
        load_csv(path, "y")


def test_csv_large_but_scalable_features(tmp_path):
    from sklearn.preprocessing import StandardScaler

    path = _write(tmp_path, "a,b,y\n1,1e150,u\n2,-3e150,v\n3,2e149,u\n")
    scaled = StandardScaler().fit_transform(load_csv(path, "y").X)
    assert np.all(np.isfinite(scaled))


def test_missing_csv_file(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_csv(tmp_path / "absent.csv", "y")
    with pytest.raises(DatasetError, match="is a directory"):
        load_csv(tmp_path, "y")


def test_binary_csv_is_not_utf8(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,y\n\xff\xfe,1\n")
    with pytest.raises(DatasetError, match="not a UTF-8"):
        load_csv(path, "y")
